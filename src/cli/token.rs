//! `morgue token`: create, list and revoke API tokens.

use std::process::ExitCode;

use serde::Serialize;

use super::*;

/// A token as `token create --json` and `token list --json` print it (the secret only once,
/// at creation; a listed token's `createdAt` and `revokedAt` are RFC 3339, `revokedAt` null
/// while it is live).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Shown {
    name: String,
    role: crate::graphql::Role,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    created_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    revoked_at: Option<Option<String>>,
}

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
        /// Print `{"name", "role", "token"}` as JSON instead of the bare secret.
        #[arg(long)]
        json: bool,
    },
    /// List tokens (names, roles, dates; never secrets).
    ///
    /// Example: `morgue token list --json`
    List {
        #[command(flatten)]
        /// Data directory.
        data: DataArgs,
        /// Print a JSON array of `{"name", "role", "createdAt", "revokedAt"}`.
        #[arg(long)]
        json: bool,
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
            | TokenCommand::List { data, .. }
            | TokenCommand::Revoke { data, .. } => data,
        }
    }
}

/// Runs a token command.
pub(super) fn run(command: TokenCommand) -> anyhow::Result<ExitCode> {
    let tokens = crate::auth::Tokens::load(&command.data().data)?;
    match command {
        TokenCommand::Create { name, role, json, .. } => {
            let role = crate::graphql::Role::from(role);
            let secret = tokens.create(&name, role)?;
            eprintln!("created a {role:?} token named {name:?}; it is shown once, keep it:");
            if json {
                print_json(&Shown { name, role, token: Some(secret), created_at: None, revoked_at: None })?;
            } else {
                println!("{secret}");
            }
        }
        TokenCommand::List { json: true, .. } => {
            let shown: Vec<Shown> = tokens
                .list()
                .into_iter()
                .map(|t| Shown {
                    name: t.name,
                    role: t.role,
                    token: None,
                    created_at: Some(t.created_at.to_rfc3339()),
                    revoked_at: Some(t.revoked_at.map(|at| at.to_rfc3339())),
                })
                .collect();
            print_json(&shown)?;
        }
        TokenCommand::List { json: false, .. } => {
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
