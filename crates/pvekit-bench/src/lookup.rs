//! `pvekit-bench lookup`: reverse lookup time (median) at 100 and at N guests.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use pvekit::types::ClusterResource;
use pvekit::{GuestResource, Snapshot};

use crate::emit;

/// Options of the lookup benchmark.
#[derive(clap::Args)]
pub struct Args {
    /// Guests in the large inventory.
    #[arg(long, default_value_t = 10_000)]
    guests: usize,
}

fn ip_of(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, (i >> 16) as u8, (i >> 8) as u8, i as u8))
}

fn snapshot(n: usize) -> Snapshot {
    let guests = (0..n)
        .map(|i| {
            Arc::new(
                GuestResource::new(
                    ClusterResource {
                        id: format!("lxc/{}", 100 + i).into(),
                        kind: "lxc".into(),
                        vmid: Some(100 + i as u64),
                        name: Some(format!("ct-{i}").into()),
                        status: Some("running".into()),
                        ..Default::default()
                    },
                    vec![ip_of(i)],
                )
                .expect("a guest"),
            )
        })
        .collect();
    Snapshot::build(guests, SystemTime::now())
}

/// Median nanoseconds per call of `f` over batches.
fn median_ns(mut f: impl FnMut(usize)) -> f64 {
    const BATCH: usize = 1000;
    let mut samples = Vec::with_capacity(101);
    for round in 0..101 {
        let t = Instant::now();
        for i in 0..BATCH {
            f(round * BATCH + i);
        }
        samples.push(t.elapsed().as_nanos() as f64 / BATCH as f64);
    }
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

pub fn run(a: Args) -> anyhow::Result<()> {
    for n in [100, a.guests.max(1)] {
        let snap = snapshot(n);
        let by_ip = median_ns(|i| {
            black_box(snap.reverse_lookup(Some(ip_of(i.wrapping_mul(7919) % n)), None, None));
        });
        let hosts: Vec<String> = (0..n).map(|i| format!("ct-{i}.lan")).collect();
        let by_host = median_ns(|i| {
            black_box(snap.reverse_lookup(None, Some(&hosts[i.wrapping_mul(7919) % n]), None));
        });
        let bench = format!("lookup_{n}");
        emit(&bench, "by_ip_median", by_ip, "ns", None);
        emit(&bench, "by_hostname_median", by_host, "ns", None);
    }
    Ok(())
}
