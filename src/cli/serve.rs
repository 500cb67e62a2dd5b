//! `morgue serve`: open the archive, load the fixtures into an empty one, link it to NATS when
//! asked, and serve until a signal.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::*;

pub(super) async fn serve(
    data: DataArgs,
    listen: std::net::SocketAddr,
    (fixtures, images): (PathBuf, PathBuf),
    http: crate::http::HttpOptions,
    replication: ReplicationArgs,
) -> anyhow::Result<ExitCode> {
    let mut archive = crate::archive::Archive::open(&data.data, data.map_size)
        .with_context(|| format!("opening the archive in {}", data.data.display()))?;
    let link = replication.link(&data.data)?.map(std::sync::Arc::new);
    let replica = link.as_ref().is_some_and(|l| l.role == crate::replicate::Role::Follower);
    if let Some(link) = &link {
        archive = archive.with_link(link.clone());
    }
    let fixtures = if replica { PathBuf::from("none") } else { fixtures };
    if let Some(p) = archive.projections() {
        p.set_batch(data.projector_batch);
    }
    // Handle Ctrl-C and SIGTERM from here on: a stop asked during start-up is honoured.
    let shutdown = shutdown_signal();
    if archive.store().head() == crate::Position::ZERO && fixtures.as_os_str() != "none" {
        if fixtures.exists() {
            tracing::info!(file = %fixtures.display(), "the archive is empty: loading the fixtures");
            let store = archive.store().clone();
            let file = fixtures.clone();
            let report = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
                let input = open_input(&file)?;
                Ok(crate::archive::import(
                    &store,
                    std::io::BufRead::lines(input),
                    crate::transfer::DEFAULT_BATCH,
                    |_| {},
                )?)
            })
            .await??;
            tracing::info!(events = report.appended, "fixtures loaded; indexing them before listening");
            if images.as_os_str() != "none" && images.exists() {
                let written = super::fixture_images::load(&archive, &images).await?;
                tracing::info!(events = written, list = %images.display(), "fixture images uploaded and placed");
            } else if images.as_os_str() != "none" {
                tracing::warn!(list = %images.display(), "no fixture images to load");
            }
            if let Some(p) = archive.projections() {
                p.wait_for(archive.store().head(), Duration::from_secs(600)).await?;
            }
        } else {
            tracing::warn!(file = %fixtures.display(), "the archive is empty and there are no fixtures to load");
        }
    }
    let tokens = crate::auth::Tokens::load(&data.data)?;
    let listener =
        tokio::net::TcpListener::bind(listen).await.with_context(|| format!("listening on {listen}"))?;
    let address = listener.local_addr()?;
    tracing::info!(head = %archive.store().head(), data = %data.data.display(), "archive open");
    tracing::info!("GraphiQL: http://{address}/graphiql  (GraphQL: http://{address}/graphql)");
    // Start linking once the fixtures are in: the publisher then sends them in big batches.
    let linked = link.map(|link| {
        let store = archive.store().clone();
        match link.role {
            crate::replicate::Role::Publisher => tokio::spawn(crate::replicate::publish(store, link)),
            crate::replicate::Role::Follower => tokio::spawn(crate::replicate::follow(store, link)),
        }
    });
    let state = crate::http::AppState::with_options(archive.clone(), tokens, http);
    crate::http::serve(listener, state, shutdown).await?;
    if let Some(task) = linked {
        task.abort();
    }
    tracing::info!("stopping: projectors commit what they applied");
    tokio::task::spawn_blocking(move || archive.close()).await?;
    Ok(ExitCode::SUCCESS)
}
