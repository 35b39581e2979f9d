//! Integration tests of pvekit-sim: every test starts its own simulator on 127.0.0.1:0 and
//! talks to it over real HTTPS.

mod access;
mod agent;
mod api;
mod auth;
mod captures;
mod config;
mod conformance;
mod control;
mod faults;
mod latency;
mod permissions;
mod rrd;
mod sandbox;
mod scenario;
mod services;
mod shapes;
mod tasks;
mod terminal;
mod termutil;
mod util;
