//! Starts a simulator and prints its info as one JSON line; stops on Ctrl-C.
//!
//! ```text
//! cargo run -p pvekit-sim --example sim -- [--port N] [--seed N] [--nodes N] [--containers N]
//!     [--vms N] [--scenario FILE] [--password PW] [--secret S] [--strict]
//! ```

use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut opts = pvekit_sim::SimOptions::default();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--port" => opts.listen.set_port(value()?.parse()?),
            "--seed" => opts.seed = value()?.parse()?,
            "--nodes" => opts.nodes = value()?.parse()?,
            "--containers" => opts.containers = value()?.parse()?,
            "--vms" => opts.vms = value()?.parse()?,
            "--scenario" => opts.scenario = Some(value()?.into()),
            "--password" => opts.password = Some(value()?),
            "--secret" => opts.secret = Some(value()?),
            "--latency-ms" => opts.latency = Duration::from_millis(value()?.parse()?),
            "--strict" => opts.strict = true,
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let sim = pvekit_sim::Simulator::start(opts).await?;
        println!("{}", serde_json::to_string(sim.info())?);
        tokio::signal::ctrl_c().await?;
        sim.shutdown().await;
        Ok(())
    })
}
