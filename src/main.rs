//! `sahel-atlas`: serve | import | export | check | gen-events.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use clap::{Args, Parser, Subcommand};
use sahel_atlas::{
    AppState, Archive, ArchiveFormat, Archives, Atlas, Config, ConnectionLimits, Dataset,
    DownloadLimits, EventSources, ExportError, ExportSpec, ImportError, Live, LoadError,
    LoadFailed, Served, ShedLimits, Sources, StoreError, TileSource, export_tiles, import_files,
    load_places, load_regions, read_atlas, serve,
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

/// What one client can take of the server.
#[derive(Args)]
struct LimitArgs {
    /// Seconds a client has to send a request's headers (and, kept alive, to start the next).
    #[arg(long, default_value_t = 10)]
    header_timeout_secs: u64,
    /// Open connections beyond this are closed at once.
    #[arg(long, default_value_t = 10_000)]
    max_connections: usize,
    /// Expensive requests (filtered scans, coverage, stats, uncached filtered tiles) run at
    /// once (default: one per core).
    #[arg(long)]
    max_expensive: Option<usize>,
    /// Expensive requests that may wait up to a second for a turn (default: four per
    /// core); beyond, 503 with Retry-After.
    #[arg(long)]
    expensive_queue: Option<usize>,
    /// Rows one download (f=csv, f=geojson) may hold; a larger answer is refused.
    #[arg(long, default_value_t = DownloadLimits::default().max_rows)]
    max_download_rows: usize,
    /// Downloads written at once; beyond, 503 with Retry-After.
    #[arg(long, default_value_t = DownloadLimits::default().at_once)]
    max_downloads: usize,
}

impl LimitArgs {
    fn connections(&self) -> ConnectionLimits {
        ConnectionLimits {
            header_timeout: std::time::Duration::from_secs(self.header_timeout_secs.max(1)),
            max_connections: self.max_connections.max(1),
        }
    }

    fn downloads(&self) -> DownloadLimits {
        DownloadLimits {
            max_rows: self.max_download_rows,
            at_once: self.max_downloads.max(1),
        }
    }

    fn shed(&self) -> ShedLimits {
        let default = ShedLimits::default();
        ShedLimits {
            running: self.max_expensive.unwrap_or(default.running),
            waiting: self.expensive_queue.unwrap_or(default.waiting),
            ..default
        }
    }
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
        /// Where events written at run time (and imported) are kept, laid over the data
        /// files at start-up: a GeoPackage path (created when missing) or a
        /// postgres://user@host/db URL of a PostGIS database that replicas share.
        #[arg(long, default_value = "store/atlas.gpkg", value_name = "PATH|URL")]
        store: String,
        /// Where the built indexes are saved, so that a restart with unchanged data files
        /// reads them back instead of parsing and indexing again (default: beside a
        /// GeoPackage store, as STORE.base; none for a PostGIS store).
        #[arg(long, value_name = "PATH")]
        saved_base: Option<PathBuf>,
        /// Never save or read back the built indexes.
        #[arg(long, conflicts_with = "saved_base")]
        no_saved_base: bool,
        /// File of write keys, one per line (also: env SAHEL_ATLAS_WRITE_KEYS, comma-separated).
        #[arg(long, value_name = "FILE")]
        write_keys_file: Option<PathBuf>,
        /// A PMTiles or MBTiles archive to serve at /archives/NAME, or the URL of a PMTiles
        /// archive on a CDN for the web map to read (repeatable).
        #[arg(long = "archive", value_name = "NAME=FILE|URL")]
        archives: Vec<String>,
        #[command(flatten)]
        limits: LimitArgs,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Load ACLED or UCDP GED exports into a store, in batches; a stopped import resumes
    /// where it stopped, a finished one is skipped.
    Import {
        /// A GeoPackage path or a postgres://user@host/db URL.
        #[arg(long, value_name = "PATH|URL")]
        store: String,
        /// Events per transaction.
        #[arg(long, default_value_t = 10_000)]
        batch: usize,
        /// CSV exports (format detected from the header).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Write the atlas as a file to publish.
    Export {
        #[command(subcommand)]
        what: ExportWhat,
    },
    /// Validate the data and print what would be served; exits non-zero on any error.
    Check {
        #[command(flatten)]
        data: DataArgs,
    },
    /// Ask a running server's /healthz (for a container's HEALTHCHECK: no curl or shell
    /// needed); exits 0 when it answers 200 within the timeout.
    Healthcheck {
        /// The server's address.
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
        /// Seconds to wait for the whole answer.
        #[arg(long, default_value_t = 3)]
        timeout_secs: u64,
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

#[derive(Subcommand)]
enum ExportWhat {
    /// Every non-empty tile of the zoom range and box as a PMTiles v3 or MBTiles 1.3
    /// archive (gzipped MVT, the same tiles /tiles serves).
    Tiles {
        #[arg(long, value_enum, default_value = "pmtiles")]
        format: FormatArg,
        /// The archive to write (replaced once complete).
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 0)]
        minzoom: u8,
        #[arg(long, default_value_t = 12)]
        maxzoom: u8,
        /// west,south,east,north in degrees (default: Mali and its surroundings).
        #[arg(long, value_name = "W,S,E,N")]
        bbox: Option<String>,
        /// Event filters as /tiles takes them, e.g. "from=2018&type=Battles".
        #[arg(long, value_name = "QUERY", default_value = "")]
        filter: String,
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum FormatArg {
    Pmtiles,
    Mbtiles,
}

fn sources(args: &DataArgs) -> Sources {
    Sources {
        dir: args.data.clone(),
        events: EventSources {
            extra_files: args.events.clone(),
            skip_shipped: args.no_shipped_events,
            notes_dir: None,
        },
        saved: None,
    }
}

/// Where `serve` keeps the saved base: as asked, else beside a GeoPackage store.
fn saved_base_path(store: &str, asked: Option<PathBuf>, never: bool) -> Option<PathBuf> {
    match (never, asked) {
        (true, _) => None,
        (false, Some(path)) => Some(path),
        (false, None) => {
            (!sahel_atlas::is_postgres_url(store)).then(|| PathBuf::from(format!("{store}.base")))
        }
    }
}

/// The data files alone (no store), as `check` validates them.
fn load(args: &DataArgs) -> Result<Atlas, CliError> {
    Ok(read_atlas(&sources(args), None)?.0)
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

/// Why a command failed: printed as `error: …` with a non-zero exit.
#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: csv::Error },
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot install signal handlers: {0}")]
    Signals(std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Data(#[from] LoadFailed),
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error(transparent)]
    Export(#[from] ExportError),
    #[error("{0}")]
    Usage(String),
    #[error("{addr}/healthz: {source}")]
    Unreachable {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{addr}/healthz answered {status:?}")]
    Unhealthy { addr: SocketAddr, status: String },
    #[error("cannot read the write keys from {}: {source}", path.display())]
    Keys {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn main() -> ExitCode {
    sahel_atlas::tune_allocator();
    // Log lines go to stderr from a thread of their own: a write per request on the
    // request's thread cost the cached-tile path a third of its throughput. Lossless (a
    // full buffer waits); flushed when `_log` drops at exit.
    let (writer, _log) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(writer)
        .init();
    let done = match Cli::parse().command {
        Command::GenEvents { n, seed, out, data } => gen_events(n, seed, &out, &data),
        Command::Check { data } => check(&data),
        Command::Healthcheck { addr, timeout_secs } => healthcheck(addr, timeout_secs),
        Command::Import {
            store,
            batch,
            files,
        } => import(&store, batch, &files),
        Command::Export {
            what:
                ExportWhat::Tiles {
                    format,
                    out,
                    minzoom,
                    maxzoom,
                    bbox,
                    filter,
                    data,
                },
        } => {
            let spec = ExportSpec {
                format: match format {
                    FormatArg::Pmtiles => ArchiveFormat::Pmtiles,
                    FormatArg::Mbtiles => ArchiveFormat::Mbtiles,
                },
                out,
                minzoom,
                maxzoom,
                bbox: [0.0; 4],
            };
            export(spec, bbox.as_deref(), &filter, &data)
        }
        Command::Serve {
            addr,
            data,
            tile_cache_mb,
            public_url,
            web,
            font,
            store,
            saved_base,
            no_saved_base,
            write_keys_file,
            archives,
            limits,
        } => write_keys(write_keys_file.as_deref()).and_then(|write_keys| {
            let config = Config {
                archives: open_archives(&archives)?,
                tile_cache_bytes: tile_cache_mb.saturating_mul(1 << 20),
                public_url,
                web_dir: web,
                font,
                write_keys,
                connections: limits.connections(),
                shed: limits.shed(),
                downloads: limits.downloads(),
            };
            let saved = saved_base_path(&store, saved_base, no_saved_base);
            let live = open_live(&data, &store, saved)?;
            run_server(live, addr, config)
        }),
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `gen-events`: synthetic events anchored on the towns and regions of `data`.
fn gen_events(n: u64, seed: u64, out: &Path, data: &Path) -> Result<(), CliError> {
    let atlas = Atlas::build(Dataset {
        regions: load_regions(&data.join("regions.geojson"))?,
        places: load_places(&data.join("places.geojson"))?,
        ..Dataset::default()
    });
    let write_error = |source| CliError::Write {
        path: out.to_path_buf(),
        source,
    };
    let file = std::fs::File::create(out).map_err(|e| write_error(e.into()))?;
    sahel_atlas::write_events(&atlas, n, seed, std::io::BufWriter::new(file))
        .map_err(write_error)?;
    println!("wrote {n} synthetic events to {}", out.display());
    Ok(())
}

/// `check`: loads everything and prints what would be served.
fn check(data: &DataArgs) -> Result<(), CliError> {
    let atlas = load(data)?;
    let outside = atlas
        .event_indices()
        .filter(|&i| atlas.event_region(i).is_none())
        .count();
    let basemap = atlas.basemap();
    println!(
        "ok: {} regions, {} bases, {} places, {} events ({} outside every region), base map: {} country, {} neighbours, {} rivers, {} lakes",
        atlas.regions().len(),
        atlas.bases().len(),
        atlas.places().len(),
        atlas.event_count(),
        outside,
        basemap.country.len(),
        basemap.neighbours.len(),
        basemap.rivers.len(),
        basemap.lakes.len(),
    );
    Ok(())
}

/// The write keys: from `file` (one per line) and env `SAHEL_ATLAS_WRITE_KEYS`
/// (comma-separated); blank entries are ignored.
fn write_keys(file: Option<&Path>) -> Result<Vec<String>, CliError> {
    let mut keys: Vec<String> = std::env::var("SAHEL_ATLAS_WRITE_KEYS")
        .unwrap_or_default()
        .split(',')
        .map(|k| k.trim().to_string())
        .collect();
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|source| CliError::Keys {
            path: path.to_path_buf(),
            source,
        })?;
        keys.extend(text.lines().map(|k| k.trim().to_string()));
    }
    keys.retain(|k| !k.is_empty());
    Ok(keys)
}

/// Opens each `NAME=FILE` of `serve --archive`.
fn open_archives(specs: &[String]) -> Result<Archives, CliError> {
    let mut named: Vec<(String, Served)> = Vec::new();
    for spec in specs {
        let usage = |why: &str| CliError::Usage(format!("--archive {spec:?}: {why}"));
        let (name, file) = spec
            .split_once('=')
            .ok_or_else(|| usage("expected NAME=FILE"))?;
        let name_ok = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !name_ok {
            return Err(usage(
                "the name may hold only letters, digits, '-', '_' and '.'",
            ));
        }
        if named.iter().any(|(n, _)| n == name) {
            return Err(usage("that name is given twice"));
        }
        // A URL is a PMTiles archive on object storage or a CDN, read by browsers.
        if file.contains("://") {
            if sahel_atlas::archive_origin(file).is_none() || !file.ends_with(".pmtiles") {
                return Err(usage("a URL must be http(s)://HOST/....pmtiles"));
            }
            named.push((name.to_string(), Served::Remote(file.to_string())));
            continue;
        }
        let archive = Archive::open(Path::new(file)).map_err(|e| usage(&e.problem.to_string()))?;
        tracing::info!(name, file, format = archive.format(), "archive opened");
        named.push((name.to_string(), Served::File(Arc::new(archive))));
    }
    Ok(Archives::new(named))
}

/// Opens the store, lays its events over the data files and builds the first snapshot.
fn open_live(data: &DataArgs, store: &str, saved: Option<PathBuf>) -> Result<Live, CliError> {
    let store = sahel_atlas::open_store(store)?;
    tracing::info!(store = %store.name(), shared = store.shared(), "store opened");
    let mut sources = sources(data);
    // The notes of the files are kept beside the saved base, as they are once read
    // back from it.
    sources.events.notes_dir = saved.as_deref().map(|base| match base.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    });
    sources.saved = saved;
    Ok(Live::open(sources, store)?)
}

/// `export tiles`: loads the data, then writes the archive and a line of figures.
fn export(
    mut spec: ExportSpec,
    bbox: Option<&str>,
    filter: &str,
    data: &DataArgs,
) -> Result<(), CliError> {
    spec.bbox = match bbox {
        None => sahel_atlas::BOUNDS,
        Some(text) => {
            let v: Vec<f64> = text
                .split(',')
                .map(|p| p.trim().parse::<f64>())
                .collect::<Result<_, _>>()
                .map_err(|_| {
                    CliError::Usage(format!("--bbox {text:?}: expected W,S,E,N numbers"))
                })?;
            v.try_into()
                .map_err(|_| CliError::Usage(format!("--bbox {text:?}: expected four numbers")))?
        }
    };
    let atlas = load(data)?;
    let filter = sahel_atlas::tile_filter(filter, &atlas)
        .map_err(|e| CliError::Usage(format!("--filter: {e}")))?;
    let source = TileSource::build(&atlas);
    source.prepare_summaries(&atlas);
    let done = export_tiles(&atlas, &source, &filter, &spec)?;
    println!(
        "wrote {}: {} tiles of {} addresses at z{}-{}, {:.1} MB, {:.1} s ({:.0} tiles/s)",
        spec.out.display(),
        done.tiles,
        done.considered,
        spec.minzoom,
        spec.maxzoom,
        done.bytes as f64 / 1e6,
        done.secs,
        done.considered as f64 / done.secs.max(1e-9)
    );
    Ok(())
}

/// `import`: the files into the store, then a line per file.
fn import(store: &str, batch: usize, files: &[PathBuf]) -> Result<(), CliError> {
    let store = sahel_atlas::open_store(store)?;
    let started = Instant::now();
    for f in import_files(&*store, files, batch)? {
        println!(
            "{}: {} events, {} committed now",
            f.file.display(),
            f.events,
            f.committed
        );
    }
    println!(
        "imported into {} in {:.1} s; store sequence {}",
        store.name(),
        started.elapsed().as_secs_f64(),
        store.sequence()?
    );
    Ok(())
}

/// Reloads the data files on every SIGHUP (the outcome is logged and shown by /healthz).
fn reload_on_hangup(state: Arc<AppState>) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hup = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            let state = state.clone();
            let _ = tokio::task::spawn_blocking(move || state.live.reload()).await;
        }
    });
    Ok(())
}

/// `serve`: listens on `addr` and serves the live data until SIGTERM or Ctrl-C.
fn run_server(live: Live, addr: SocketAddr, config: Config) -> Result<(), CliError> {
    let wanted = config.connections.max_connections as u64 + 64;
    match sahel_atlas::raise_open_files_limit() {
        Some(n) if n < wanted => tracing::warn!(
            open_files = n,
            max_connections = config.connections.max_connections,
            "the open-file limit caps connections below --max-connections"
        ),
        _ => {}
    }
    let runtime = sahel_atlas::runtime(&config.shed).map_err(CliError::Runtime)?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| CliError::Listen { addr, source })?;
        let shutdown = shutdown_signal().map_err(CliError::Signals)?;
        let local = listener.local_addr().unwrap_or(addr);
        // Tests and scripts read this line to find the port.
        println!("listening on http://{local}");
        let started = Instant::now();
        let state = Arc::new(AppState::new(live, config));
        state.live.follow();
        reload_on_hangup(state.clone()).map_err(CliError::Signals)?;
        tracing::info!(
            tile_prep_ms = started.elapsed().as_millis() as u64,
            "tile geometry ready"
        );
        let live = state.live.clone();
        let shutdown = async move {
            shutdown.await;
            live.close(); // change streams end, so in-flight requests can finish
        };
        serve(state, listener, shutdown).await;
        Ok(())
    })
}

/// `healthcheck`: one `GET /healthz` over a plain connection; connecting, sending and
/// reading the status line (at most 256 bytes) all within `timeout_secs` in total, so a
/// server that trickles bytes cannot hold it.
fn healthcheck(addr: SocketAddr, timeout_secs: u64) -> Result<(), CliError> {
    use std::io::{Read, Write};
    let deadline = Instant::now() + std::time::Duration::from_secs(timeout_secs.max(1));
    let unreachable = |source| CliError::Unreachable { addr, source };
    let left = || {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::TimedOut))
    };
    let mut stream = std::net::TcpStream::connect_timeout(&addr, left().map_err(unreachable)?)
        .map_err(unreachable)?;
    stream
        .set_write_timeout(Some(left().map_err(unreachable)?))
        .map_err(unreachable)?;
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).map_err(unreachable)?;
    let mut line = Vec::new();
    let mut buf = [0u8; 64];
    while !line.contains(&b'\n') && line.len() < 256 {
        stream
            .set_read_timeout(Some(left().map_err(unreachable)?))
            .map_err(unreachable)?;
        match stream.read(&mut buf).map_err(unreachable)? {
            0 => break,
            n => line.extend_from_slice(&buf[..n]),
        }
    }
    let line = String::from_utf8_lossy(&line);
    let status = line.lines().next().unwrap_or("").trim_end().to_string();
    if status.split_whitespace().nth(1) == Some("200") {
        Ok(())
    } else {
        Err(CliError::Unhealthy { addr, status })
    }
}
