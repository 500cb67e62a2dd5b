//! The `morgue` binary: parse the command line, run, map the error to an exit code
//! (`morgue::cli::exit` lists them all).

use std::process::ExitCode;

use clap::Parser;
use morgue::cli::exit;

fn main() -> ExitCode {
    let cli = match morgue::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // `--help` and `--version` are "errors" that print to standard output and succeed.
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() { exit::USAGE } else { exit::SUCCESS });
        }
    };
    match morgue::cli::run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(exit::code_of(&error))
        }
    }
}
