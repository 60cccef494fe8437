//! `sahel-atlas`: serve | check.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use clap::{Args, Parser, Subcommand};
use sahel_atlas::atlas::Atlas;
use sahel_atlas::http::{AppState, Config, serve};
use sahel_atlas::load::{
    Dataset, EventSources, LoadError, load_dataset, load_places, load_regions,
};

#[derive(Parser)]
#[command(
    name = "sahel-atlas",
    version,
    about = "A map service for the conflict in Mali and the Sahel"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct DataArgs {
    /// Directory with regions.geojson, bases.geojson, places.geojson, the base map and events.csv.
    #[arg(long, default_value = "geodata")]
    data: PathBuf,
    /// An ACLED or UCDP GED CSV export to load as well (repeatable; format detected from the header).
    #[arg(long = "events", value_name = "FILE")]
    events: Vec<PathBuf>,
    /// Do not load the shipped geodata/events.csv, only the --events files.
    #[arg(long)]
    no_shipped_events: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the atlas over HTTP.
    Serve {
        /// Address to listen on (port 0 picks a free port; the chosen address is printed).
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
        /// Memory for encoded tiles, in MB (0 turns the tile cache off).
        #[arg(long, default_value_t = 256)]
        tile_cache_mb: u64,
        /// Public base URL for links in TileJSON and the style (default: from the Host header).
        #[arg(long)]
        public_url: Option<String>,
        /// Directory of the web map.
        #[arg(long, default_value = "web")]
        web: PathBuf,
        /// TrueType font for map labels.
        #[arg(
            long,
            default_value = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
        )]
        font: PathBuf,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Validate the data and print what would be served; exits non-zero on any error.
    Check {
        #[command(flatten)]
        data: DataArgs,
    },
    /// Write synthetic ACLED-format events for benchmarks (marked synthetic in `source`).
    GenEvents {
        /// Number of events.
        #[arg(long)]
        n: u64,
        /// Seed: the same seed, count and data give the same file.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Output CSV file.
        #[arg(long)]
        out: PathBuf,
        /// Data directory whose towns and regions anchor the events.
        #[arg(long, default_value = "geodata")]
        data: PathBuf,
    },
}

fn load(args: &DataArgs) -> Result<Atlas, LoadError> {
    let started = Instant::now();
    let dataset = load_dataset(
        &args.data,
        &EventSources {
            extra_files: args.events.clone(),
            skip_shipped: args.no_shipped_events,
        },
    )?;
    let loaded = started.elapsed();
    let atlas = Atlas::build(dataset);
    tracing::info!(
        events = atlas.events().len(),
        bases = atlas.bases().len(),
        regions = atlas.regions().len(),
        places = atlas.places().len(),
        load_ms = loaded.as_millis() as u64,
        index_ms = (started.elapsed() - loaded).as_millis() as u64,
        "atlas ready"
    );
    Ok(atlas)
}

/// Resolves on SIGTERM or Ctrl-C. The handlers are installed here, before the server
/// announces its address, so a signal sent right after start-up is never missed.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
        tracing::info!("shutting down: finishing in-flight requests");
    })
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::GenEvents { n, seed, out, data } => {
            let dataset = match (|| -> Result<Dataset, LoadError> {
                Ok(Dataset {
                    regions: load_regions(&data.join("regions.geojson"))?,
                    places: load_places(&data.join("places.geojson"))?,
                    ..Dataset::default()
                })
            })() {
                Ok(d) => d,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let atlas = Atlas::build(dataset);
            let written = std::fs::File::create(&out)
                .map_err(|e| e.to_string())
                .and_then(|f| {
                    sahel_atlas::synth::write_events(&atlas, n, seed, std::io::BufWriter::new(f))
                        .map_err(|e| e.to_string())
                });
            match written {
                Ok(()) => {
                    println!("wrote {n} synthetic events to {}", out.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: cannot write {}: {e}", out.display());
                    ExitCode::FAILURE
                }
            }
        }
        Command::Check { data } => match load(&data) {
            Ok(atlas) => {
                let outside = atlas.event_region().iter().filter(|r| r.is_none()).count();
                println!(
                    "ok: {} regions, {} bases, {} places, {} events ({} outside every region), base map: {} country, {} neighbours, {} rivers, {} lakes",
                    atlas.regions().len(),
                    atlas.bases().len(),
                    atlas.places().len(),
                    atlas.events().len(),
                    outside,
                    atlas.basemap().country.len(),
                    atlas.basemap().neighbours.len(),
                    atlas.basemap().rivers.len(),
                    atlas.basemap().lakes.len(),
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Serve {
            addr,
            data,
            tile_cache_mb,
            public_url,
            web,
            font,
        } => {
            let atlas = match load(&data) {
                Ok(a) => a,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("error: cannot start the async runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::bind(addr).await {
                    Ok(l) => l,
                    Err(e) => {
                        eprintln!("error: cannot listen on {addr}: {e}");
                        return ExitCode::FAILURE;
                    }
                };
                let shutdown = match shutdown_signal() {
                    Ok(s) => s,
                    Err(e) => {
                        eprintln!("error: cannot install signal handlers: {e}");
                        return ExitCode::FAILURE;
                    }
                };
                let local = listener.local_addr().unwrap_or(addr);
                // Tests and scripts read this line to find the port.
                println!("listening on http://{local}");
                let config = Config {
                    tile_cache_bytes: tile_cache_mb.saturating_mul(1 << 20),
                    public_url,
                    web_dir: web,
                    font,
                };
                let started = Instant::now();
                let state = Arc::new(AppState::new(atlas, config));
                tracing::info!(
                    tile_prep_ms = started.elapsed().as_millis() as u64,
                    "tile geometry ready"
                );
                serve(state, listener, shutdown).await;
                ExitCode::SUCCESS
            })
        }
    }
}
