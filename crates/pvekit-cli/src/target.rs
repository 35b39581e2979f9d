/*!
Guest targets (`VMID`, `NAME`, `NODE/VMID`, `CLUSTER/NODE/VMID`) and their resolution across
every configured cluster: the library's [`pvekit::target`].
*/

pub use pvekit::target::{Target, resolve};
