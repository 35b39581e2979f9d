/*!
Integration tests of the `pvekit` binary: one test binary, one module per area.

Every test runs the real binary as a subprocess with a cleared environment (so the developer's
own `PVEKIT_*` variables and config file cannot leak in), against its own simulator started
with `pvekit sim --listen 127.0.0.1:0`.
*/

mod util;

mod config;
mod connect;
mod demo;
mod extras;
mod failover;
mod guests;
mod login;
mod routes;
mod secrets;
mod serve;
mod sim;
mod terminal;
