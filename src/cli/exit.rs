//! Exit codes: every code the binary can end with, named in one place, and the one function
//! that turns a command's error into its code. Scripts branch on these; the top-level `--help`
//! and the README's "Exit codes" list them.

use std::path::PathBuf;

use crate::Position;

/// The command did what it was asked.
pub const SUCCESS: u8 = 0;
/// Something went wrong that has no code of its own; the message on standard error says what.
pub const ERROR: u8 = 1;
/// The command line is not valid (an unknown flag, a bad value): clap's own code.
pub const USAGE: u8 = 2;
/// Another process (named by its pid) holds the data directory for writing.
pub const LOCKED: u8 = 3;
/// The log is damaged: `verify` found a bad record, or a restored copy did not verify.
pub const DAMAGED: u8 = 4;
/// An import stopped at a line it refuses; the message names the line and the field.
pub const BAD_INPUT: u8 = 5;
/// The target of `restore` or `backup` already holds a log; nothing was changed.
pub const OCCUPIED: u8 = 6;

/// The list printed at the end of the top-level `--help`.
pub const HELP: &str = "\
Exit codes:
  0  success
  1  error (the message on standard error says what)
  2  usage: a flag or value is not valid
  3  the data directory is in use by another writing process (serve, import, rebuild, restore)
  4  the log is damaged (verify found a bad record, or a restored copy did not verify)
  5  an import stopped at a bad line (the message names the line and the field)
  6  restore or backup was pointed at a directory that already holds a log (nothing changed)

Every command that takes --json prints one JSON object (token list: an array) on standard
output, camelCase keys, log positions as decimal strings; progress and notes go to standard
error.";

/// A failure with an exit code of its own.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The data directory is held by another writing process.
    #[error(
        "the data directory {} is in use by {holder}: stop it, or use a read-only command \
         (verify, export, backup, stats)",
        data.display()
    )]
    Locked {
        /// The data directory.
        data: PathBuf,
        /// Who holds it: `process 1234 (morgue serve)`.
        holder: String,
    },
    /// The log is damaged at a position.
    #[error("the log in {} is damaged at position {position}: {reason}", log.display())]
    Damaged {
        /// The log's directory.
        log: PathBuf,
        /// The first bad position.
        position: Position,
        /// What is wrong there.
        reason: String,
    },
    /// A directory that must not hold a log yet holds one.
    #[error("{} already holds a log{}: {what}; nothing was changed", dir.display(), head_note(*head))]
    Occupied {
        /// The directory.
        dir: PathBuf,
        /// The head of the log it holds, when known.
        head: Option<Position>,
        /// What to do instead.
        what: &'static str,
    },
}

fn head_note(head: Option<Position>) -> String {
    head.map(|h| format!(" (head position {h})")).unwrap_or_default()
}

impl Failure {
    /// The exit code.
    pub fn code(&self) -> u8 {
        match self {
            Failure::Locked { .. } => LOCKED,
            Failure::Damaged { .. } => DAMAGED,
            Failure::Occupied { .. } => OCCUPIED,
        }
    }
}

/// The exit code for a command's error: a [`Failure`]'s own code, [`BAD_INPUT`] for an import
/// stopped at a line, [`ERROR`] for everything else.
pub fn code_of(error: &anyhow::Error) -> u8 {
    for cause in error.chain() {
        if let Some(failure) = cause.downcast_ref::<Failure>() {
            return failure.code();
        }
        if cause.is::<crate::archive::ImportError>() {
            return BAD_INPUT;
        }
    }
    ERROR
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_has_its_code_through_context() {
        let locked = anyhow::Error::new(Failure::Locked { data: "d".into(), holder: "process 7".into() })
            .context("taking the lock");
        assert_eq!(code_of(&locked), LOCKED);
        assert!(format!("{locked:#}").contains("in use by process 7"));
        let damaged =
            Failure::Damaged { log: "d/log".into(), position: Position(4), reason: "checksum".into() };
        assert_eq!(code_of(&damaged.into()), DAMAGED);
        let occupied = Failure::Occupied { dir: "d".into(), head: Some(Position(9)), what: "x" };
        assert!(occupied.to_string().contains("(head position 9)"), "{occupied}");
        assert_eq!(code_of(&occupied.into()), OCCUPIED);
        let bad = crate::archive::ImportError {
            line: 3,
            field: "version".into(),
            message: "m".into(),
            committed: 0,
        };
        assert_eq!(code_of(&anyhow::Error::new(bad).context("importing f")), BAD_INPUT);
        assert_eq!(code_of(&anyhow::anyhow!("anything else")), ERROR);
    }

    #[test]
    fn the_help_lists_every_code() {
        for code in [SUCCESS, ERROR, USAGE, LOCKED, DAMAGED, BAD_INPUT, OCCUPIED] {
            assert!(HELP.contains(&format!("\n  {code}  ")), "{code} is not listed");
        }
    }
}
