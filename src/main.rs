//! `frontdesk`: see `frontdesk --help` and the README.

use clap::Parser;
use frontdesk::{cli, config::Config, telemetry};

#[tokio::main]
async fn main() {
    telemetry::init();
    let cli = cli::Cli::parse();
    let result = async { cli::run(cli, Config::from_env()?).await }.await;
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
    }
}
