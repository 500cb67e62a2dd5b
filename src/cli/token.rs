//! `morgue token`: create, list and revoke API tokens.

use std::process::ExitCode;

use super::*;

/// Token commands.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token; its secret is printed once (only a hash is kept).
    ///
    /// Example: `morgue token create --role editor --name night-desk`
    Create {
        #[command(flatten)]
        /// Data directory.
        data: DataArgs,
        /// The holder's name: the actor of every event the token writes.
        #[arg(long)]
        name: String,
        /// `editor` (all mutations, sees drafts) or `admin` (editor plus operations).
        #[arg(long, value_enum, default_value_t = RoleArg::Editor)]
        role: RoleArg,
    },
    /// List tokens (names, roles, dates; never secrets).
    List {
        #[command(flatten)]
        /// Data directory.
        data: DataArgs,
    },
    /// Revoke every token of a name.
    Revoke {
        #[command(flatten)]
        /// Data directory.
        data: DataArgs,
        /// The name.
        #[arg(long)]
        name: String,
    },
}

impl TokenCommand {
    fn data(&self) -> &DataArgs {
        match self {
            TokenCommand::Create { data, .. }
            | TokenCommand::List { data }
            | TokenCommand::Revoke { data, .. } => data,
        }
    }
}

/// Runs a token command.
pub(super) fn run(command: TokenCommand) -> anyhow::Result<ExitCode> {
    let tokens = crate::auth::Tokens::load(&command.data().data)?;
    match command {
        TokenCommand::Create { name, role, .. } => {
            let role = crate::graphql::Role::from(role);
            let secret = tokens.create(&name, role)?;
            eprintln!("created a {role:?} token named {name:?}; it is shown once, keep it:");
            println!("{secret}");
        }
        TokenCommand::List { .. } => {
            for t in tokens.list() {
                let state = t.revoked_at.map_or("live".to_owned(), |at| format!("revoked {at}"));
                println!("{}\t{:?}\tcreated {}\t{state}", t.name, t.role, t.created_at);
            }
        }
        TokenCommand::Revoke { name, .. } => {
            let n = tokens.revoke(&name)?;
            println!("revoked {n} token(s) named {name:?}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
