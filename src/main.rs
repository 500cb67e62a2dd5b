//! The `morgue` binary: parse the command line, run, map the error to an exit code.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = morgue::cli::Cli::parse();
    match morgue::cli::run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
