//! `bosun session`: Session Manager through the API — an interactive shell or
//! command on a node (`session_term.rs`), port forwarding (`session_forward.rs`),
//! the history of sessions, terminating one, replaying a recording (at its pace,
//! or as asciicast v2), and the server's session preferences.

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use base64::Engine as _;
use bosun_protocol::session::{SessionPreferences, SessionView, Transcript};
use bosun_store::RecordedChunk;
use clap::{Subcommand, ValueEnum};
use tokio::io::AsyncWriteExt as _;

use super::client::Client;
use super::fleet::{print_table, segment, short_time};
use super::{CliError, Context};
use crate::output::{OutputArg, OutputFormat, print_json};

#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// Open an interactive shell on a node (or run one command: --document Bosun-StartInteractiveCommand -p command=top).
    Start {
        /// The node id.
        target: String,
        /// Bosun-StartInteractiveShell (default) or Bosun-StartInteractiveCommand.
        #[arg(long)]
        document: Option<String>,
        /// A document parameter, NAME=VALUE (e.g. -p command="top").
        #[arg(short = 'p', long = "parameter", value_name = "NAME=VALUE")]
        parameters: Vec<String>,
    },
    /// Forward a local TCP port to a port of a node's loopback.
    Forward {
        /// The node id.
        target: String,
        /// The port on the node.
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
        remote_port: u16,
        /// The local port to listen on (0: any free port).
        #[arg(long)]
        local_port: u16,
        /// The local address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        local_address: IpAddr,
    },
    /// List sessions, the latest first.
    List {
        /// Only this node's sessions.
        #[arg(long)]
        target: Option<String>,
        /// Only sessions with this status (Connecting, Connected, Terminated, Failed).
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Show a session.
    Show {
        session_id: String,
        #[command(flatten)]
        output: OutputArg,
    },
    /// End a session: its client is told why and its process on the node is ended.
    Terminate { session_id: String },
    /// Play a session's recorded output back at its recorded pace, or write it as asciicast v2.
    Replay {
        session_id: String,
        /// How much faster than recorded (e.g. 2, 0.5).
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        /// raw: the bytes as they came, at their pace; asciicast: asciicast v2 for standard players (at once).
        #[arg(long, value_enum, default_value_t = ReplayFormat::Raw)]
        format: ReplayFormat,
    },
    /// Show or change the session preferences of the server.
    #[command(subcommand)]
    Preferences(PreferencesCommand),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReplayFormat {
    Raw,
    Asciicast,
}

#[derive(Debug, Subcommand)]
pub enum PreferencesCommand {
    Show {
        #[command(flatten)]
        output: OutputArg,
    },
    /// Change the given preferences; the others keep their values.
    Set {
        /// End a session after this long without input or output (e.g. 20m).
        #[arg(long, value_parser = super::fleet::parse_duration)]
        idle_timeout: Option<Duration>,
        /// End a session after this long whatever it does (e.g. 8h).
        #[arg(long, value_parser = super::fleet::parse_duration)]
        max_duration: Option<Duration>,
        /// The user sessions run as on nodes whose agent runs as root.
        #[arg(long)]
        run_as: Option<String>,
        /// Commands a shell session runs first ("" for none).
        #[arg(long)]
        shell_profile: Option<String>,
        /// The most bytes of output recorded per session.
        #[arg(long)]
        max_recorded_bytes: Option<u64>,
        #[command(flatten)]
        output: OutputArg,
    },
}

pub async fn run(ctx: &Context, command: SessionCommand) -> Result<ExitCode, CliError> {
    match command {
        SessionCommand::Start { target, document, parameters } => {
            super::session_term::run(ctx, target, document, super::command::parameters(&parameters)?).await
        }
        SessionCommand::Forward { target, remote_port, local_port, local_address } => {
            super::session_forward::run(ctx, target, remote_port, SocketAddr::new(local_address, local_port)).await
        }
        SessionCommand::List { target, status, limit, output } => {
            let mut query = format!("/v1/sessions?limit={limit}");
            if let Some(target) = target {
                query.push_str(&format!("&target={}", segment(&target)));
            }
            if let Some(status) = status {
                query.push_str(&format!("&status={}", segment(&status)));
            }
            let sessions: Vec<SessionView> = Client::from_context(ctx)?.get(&query).await?;
            match output.output {
                OutputFormat::Json => print_json(&serde_json::to_value(&sessions).unwrap_or_default()),
                OutputFormat::Text => {
                    let rows: Vec<Vec<String>> = sessions
                        .iter()
                        .map(|s| {
                            vec![
                                s.session_id.clone(),
                                s.target.clone(),
                                s.owner.clone(),
                                s.status.clone(),
                                short_time(&s.started_at),
                                s.exit_code.map_or_else(|| "-".into(), |c| c.to_string()),
                                s.document.clone(),
                            ]
                        })
                        .collect();
                    print_table(&["SESSION", "TARGET", "OWNER", "STATUS", "STARTED", "EXIT", "DOCUMENT"], &rows);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        SessionCommand::Show { session_id, output } => {
            let session: SessionView = Client::from_context(ctx)?.get(&format!("/v1/sessions/{}", segment(&session_id))).await?;
            print_session(&session, output);
            Ok(ExitCode::SUCCESS)
        }
        SessionCommand::Terminate { session_id } => {
            let _: SessionView = Client::from_context(ctx)?.post(&format!("/v1/sessions/{}/terminate", segment(&session_id)), &()).await?;
            crate::outln!("session {session_id} terminated");
            Ok(ExitCode::SUCCESS)
        }
        SessionCommand::Replay { session_id, speed, format } => {
            if !(speed.is_finite() && speed > 0.0 && speed <= 1000.0) {
                return Err(CliError::usage(format!("--speed {speed}: give a number above 0 and at most 1000")));
            }
            let transcript: Transcript =
                Client::from_context(ctx)?.get(&format!("/v1/sessions/{}/transcript", segment(&session_id))).await?;
            let chunks = decode_chunks(&transcript)?;
            match format {
                ReplayFormat::Asciicast => {
                    let started = chrono::DateTime::parse_from_rfc3339(&transcript.session.started_at).ok().map(|t| t.timestamp());
                    let title = format!("{} on {}", transcript.session.session_id, transcript.session.target);
                    crate::out!("{}", crate::sessions::asciicast::render(transcript.rows, transcript.cols, started, &title, &chunks));
                }
                ReplayFormat::Raw => replay(&chunks, speed).await?,
            }
            Ok(ExitCode::SUCCESS)
        }
        SessionCommand::Preferences(command) => preferences(ctx, command).await,
    }
}

fn decode_chunks(transcript: &Transcript) -> Result<Vec<RecordedChunk>, CliError> {
    let b64 = base64::engine::general_purpose::STANDARD;
    transcript
        .chunks
        .iter()
        .map(|c| {
            let data = b64.decode(&c.data).map_err(|e| CliError::failed(format!("the server sent a chunk that is not base64: {e}")))?;
            Ok(RecordedChunk { at_ms: c.at_ms, data })
        })
        .collect()
}

/// Writes the chunks to stdout, each at its recorded time divided by `speed`.
async fn replay(chunks: &[RecordedChunk], speed: f64) -> Result<(), CliError> {
    let started = tokio::time::Instant::now();
    let mut stdout = tokio::io::stdout();
    for chunk in chunks {
        let due = started + Duration::from_secs_f64(chunk.at_ms as f64 / 1000.0 / speed);
        tokio::time::sleep_until(due).await;
        let written = match stdout.write_all(&chunk.data).await {
            Ok(()) => stdout.flush().await,
            Err(e) => Err(e),
        };
        match written {
            Ok(()) => {}
            // The reader went away (`| head`): the replay is over.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            Err(e) => return Err(CliError::failed(format!("cannot write the replay: {e}"))),
        }
    }
    Ok(())
}

fn print_session(session: &SessionView, output: OutputArg) {
    match output.output {
        OutputFormat::Json => print_json(&serde_json::to_value(session).unwrap_or_default()),
        OutputFormat::Text => {
            crate::outln!("Session     {}", session.session_id);
            crate::outln!("Target      {}", session.target);
            crate::outln!("Owner       {}", session.owner);
            crate::outln!("Document    {}", session.document);
            crate::outln!("Status      {}", session.status);
            crate::outln!("Run as      {}", session.run_as.as_deref().unwrap_or("-"));
            crate::outln!("Started     {}", short_time(&session.started_at));
            crate::outln!("Ended       {}", session.ended_at.as_deref().map(short_time).unwrap_or_else(|| "-".into()));
            crate::outln!("Exit code   {}", session.exit_code.map_or_else(|| "-".into(), |c| c.to_string()));
            crate::outln!("Reason      {}", session.reason.as_deref().unwrap_or("-"));
            let cut = if session.truncated { " (truncated at the cap)" } else { "" };
            crate::outln!("Recorded    {} bytes{cut}", session.recorded_bytes);
        }
    }
}

fn print_preferences(preferences: &SessionPreferences, output: OutputArg) {
    match output.output {
        OutputFormat::Json => print_json(&serde_json::to_value(preferences).unwrap_or_default()),
        OutputFormat::Text => {
            crate::outln!("Idle timeout        {} s", preferences.idle_timeout_seconds);
            crate::outln!("Maximum duration    {} s", preferences.max_duration_seconds);
            crate::outln!("Run as              {}", preferences.run_as);
            crate::outln!("Shell profile       {}", if preferences.shell_profile.is_empty() { "-" } else { &preferences.shell_profile });
            crate::outln!("Recording cap       {} bytes", preferences.max_recorded_bytes);
        }
    }
}

async fn preferences(ctx: &Context, command: PreferencesCommand) -> Result<ExitCode, CliError> {
    let client = Client::from_context(ctx)?;
    match command {
        PreferencesCommand::Show { output } => print_preferences(&client.get("/v1/session-preferences").await?, output),
        PreferencesCommand::Set { idle_timeout, max_duration, run_as, shell_profile, max_recorded_bytes, output } => {
            let mut preferences: SessionPreferences = client.get("/v1/session-preferences").await?;
            if let Some(idle) = idle_timeout {
                preferences.idle_timeout_seconds = idle.as_secs();
            }
            if let Some(max) = max_duration {
                preferences.max_duration_seconds = max.as_secs();
            }
            if let Some(user) = run_as {
                preferences.run_as = user;
            }
            if let Some(profile) = shell_profile {
                preferences.shell_profile = profile;
            }
            if let Some(bytes) = max_recorded_bytes {
                preferences.max_recorded_bytes = bytes;
            }
            let changed: SessionPreferences = client.put("/v1/session-preferences", &preferences).await?;
            print_preferences(&changed, output);
        }
    }
    Ok(ExitCode::SUCCESS)
}
