//! relink: the embedded executor of rules_relink.
//!
//! Evaluates BUILD.bazel files and the rules in `rules/*.bzl` with starlark-rust (a faithful
//! subset of Bazel's rule API), builds the action graph and runs actions hermetically with a
//! blake3 action cache. The command line (`build`, `test`, `run`, `explain`, `query`,
//! `aquery`, `clean`, `--execution-log` JSON lines) is a stable contract.

// Functions stay short enough to read (clippy.toml: too-many-lines-threshold).
#![warn(clippy::too_many_lines)]

mod cache_commands;
mod commands;
mod execution;
mod lint;
mod plan;
mod records;
mod repos;
mod rust_project;
mod toolchain_probe;

use clap::{Args, Parser, Subcommand};
use relink_import as import;

/// Command line.
#[derive(Parser, Debug)]
#[command(
    name = "relink",
    version,
    about = "Build BUILD.bazel workspaces with rules_relink, without Bazel",
    after_help = commands::EXIT_CODES
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: CommandKind,
}

/// Options shared by the commands that build.
#[derive(Args, Debug, Clone)]
pub struct BuildOpts {
    /// Parallel actions (default: number of cores).
    #[arg(short = 'j', long, value_parser = at_least_one)]
    pub jobs: Option<usize>,
    /// Write one JSON line per action to FILE.
    #[arg(long)]
    pub execution_log: Option<std::path::PathBuf>,
    /// Compilation mode: fastbuild, dbg or opt.
    #[arg(short = 'c', long = "compilation_mode", alias = "compilation-mode", default_value = "fastbuild")]
    pub compilation_mode: String,
    /// `--define KEY=VALUE`, visible as `ctx.var` and to `config_setting(define_values)`.
    #[arg(long = "define")]
    pub defines: Vec<String>,
    /// The target platform, a `platform()` label (Bazel's `--platforms`); default: the host.
    /// Toolchains are resolved against it.
    #[arg(long)]
    pub platforms: Option<String>,
    /// More `toolchain()` targets or patterns to register, ahead of the workspace's own
    /// (Bazel's `--extra_toolchains`).
    #[arg(long = "extra_toolchains", alias = "extra-toolchains")]
    pub extra_toolchains: Vec<String>,
    /// A Remote Execution API cache, `grpc://HOST:PORT` (Bazel's `--remote_cache`): action
    /// results are looked up there after the local cache and uploaded after local runs.
    /// Actions marked `no-remote` (rustc's incremental state) stay local. A server that
    /// cannot be reached or fails is a warning; the build goes on locally.
    #[arg(long = "remote_cache", alias = "remote-cache", value_parser = remote_url)]
    pub remote_cache: Option<String>,
    /// Run actions on a Remote Execution API server's workers, `grpc://HOST:PORT` (Bazel's
    /// `--remote_executor`; also the remote cache). Local-only actions (`no-remote`,
    /// `no-sandbox`) run here; an action the server cannot run (down, no worker matching its
    /// platform within --remote_queue_timeout) runs here after one warning.
    #[arg(long = "remote_executor", alias = "remote-executor", value_parser = remote_url)]
    pub remote_executor: Option<String>,
    /// Platform properties of remotely executed actions, `NAME=VALUE` (repeatable).
    #[arg(long = "remote_default_exec_properties", alias = "remote-default-exec-properties")]
    pub remote_default_exec_properties: Vec<String>,
    /// Seconds a remotely executed action may wait for a worker before it runs here.
    #[arg(long = "remote_queue_timeout", alias = "remote-queue-timeout", default_value_t = 60)]
    pub remote_queue_timeout: u64,
    /// Digest function for the remote (`blake3` or `sha256`; default: BLAKE3, relink's own,
    /// when the server offers it, else SHA256). The local cache always uses BLAKE3; with
    /// SHA256 relink hashes what it sends again (remembered per blob) and downloads every
    /// output of a remote result.
    #[arg(long = "digest_function", alias = "digest-function", value_parser = ["blake3", "sha256"], ignore_case = true)]
    pub digest_function: Option<String>,
    /// REAPI instance name on the remote cache.
    #[arg(long = "remote_instance_name", alias = "remote-instance-name", default_value = "")]
    pub remote_instance_name: String,
    /// Upload the results of actions run here to the remote cache.
    #[arg(long = "remote_upload_local_results", alias = "remote-upload-local-results", num_args = 0..=1, default_value = "true", default_missing_value = "true", action = clap::ArgAction::Set)]
    pub remote_upload_local_results: bool,
    /// Seconds one remote call may take before it is retried (then the remote is given up).
    #[arg(long = "remote_timeout", alias = "remote-timeout", default_value_t = 60)]
    pub remote_timeout: u64,
    /// Which outputs of remote cache hits to download: `all` (at once) or `toplevel` (small
    /// ones at once; the rest only when an action run here or a requested output needs them,
    /// Bazel's "build without the bytes": a server lost mid-build can then fail the build).
    #[arg(long = "remote_download_outputs", alias = "remote-download-outputs", value_enum, default_value_t = RemoteDownload::All)]
    pub remote_download_outputs: RemoteDownload,
    /// The ed25519 key that signs the provenance of uploaded results (default
    /// `$XDG_CONFIG_HOME/relink/signing-key`, made on first use). Remote results are accepted
    /// only when signed by a key the workspace trusts: this one, and those of
    /// `.relink/trust.json`.
    #[arg(long = "remote_signing_key", alias = "remote-signing-key")]
    pub remote_signing_key: Option<std::path::PathBuf>,
    /// The Cargo profile of imported targets (`dev`, `release`, `test`, `bench` or one the
    /// workspace defines), as `cargo build --profile NAME`; the same as
    /// `--define relink_profile=NAME`. Default: `dev` (`test` for `relink test`), `release`
    /// with `-c opt`.
    #[arg(long)]
    pub profile: Option<String>,
    /// Seconds a test may run before it is stopped and reported (Bazel's `--test_timeout`;
    /// default: Bazel's "long", 900).
    #[arg(long = "test_timeout", alias = "test-timeout", default_value_t = 900)]
    pub test_timeout: u64,
    /// An environment variable for tests (Bazel's `--test_env`): `NAME=VALUE`, or `NAME` for
    /// this shell's value. Tests otherwise see only PATH, HOME (= TEST_TMPDIR), USER and LOGNAME
    /// (the user's login name), TEST_TARGET and TEST_TMPDIR, as Bazel's test encyclopedia has
    /// them, where `cargo test` passes on the whole environment. Part of each test's key.
    /// Repeatable.
    #[arg(long = "test_env", alias = "test-env", value_name = "NAME[=VALUE]")]
    pub test_env: Vec<String>,
    /// Colour rustc's diagnostics: `auto` (when stderr is a terminal), `always`, `never`.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
    /// Cache directory (default: $RELINK_CACHE, else ~/.cache/relink).
    #[arg(long)]
    pub cache_dir: Option<std::path::PathBuf>,
    /// rustc's incremental state for the real compiles of workspace crates (those whose
    /// interfaces are stubbed), kept per workspace in the relink cache: `true` (the default for
    /// fastbuild and dbg) or `false`. Local only: such actions run in a stable directory, never
    /// remotely, and their outputs are cached under their own keys. Never used with `-c opt`.
    #[arg(long, num_args = 0..=1, default_value = "true", default_missing_value = "true", action = clap::ArgAction::Set)]
    pub rustc_incremental: bool,
    /// Go on after a failed action with everything that does not depend on it, and report
    /// every failure (Bazel's `--keep_going`; always on for `relink test`).
    #[arg(short = 'k', long = "keep_going", alias = "keep-going")]
    pub keep_going: bool,
}

/// `--remote_download_outputs`, as Bazel's.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RemoteDownload {
    All,
    Toplevel,
}

/// `--color`, as Cargo's.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Color {
    Auto,
    Always,
    Never,
}

impl Color {
    /// Whether diagnostics should carry colours.
    pub fn wanted(self) -> bool {
        use std::io::IsTerminal;
        match self {
            Color::Auto => std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
            Color::Always => true,
            Color::Never => false,
        }
    }
}

/// The commands.
#[derive(Subcommand, Debug)]
pub enum CommandKind {
    /// Build the targets matching the patterns.
    Build {
        #[command(flatten)]
        opts: BuildOpts,
        /// Target patterns: //pkg:name, //pkg, //pkg/..., //..., :name.
        #[arg(required = true)]
        patterns: Vec<String>,
    },
    /// Build and run the test targets matching the patterns (passing results are cached).
    Test {
        #[command(flatten)]
        opts: BuildOpts,
        #[arg(required = true)]
        patterns: Vec<String>,
    },
    /// Build a binary target and run it with ARGS.
    Run {
        #[command(flatten)]
        opts: BuildOpts,
        label: String,
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Build LABEL, then show for each of its actions who produced the result: the signed
    /// provenance (signer, builder, sources and toolchain by digest, command line) of results
    /// shared through or taken from a remote cache.
    Provenance {
        #[command(flatten)]
        opts: BuildOpts,
        label: String,
    },
    /// For the last build: every action that ran, and the inputs whose digest changed.
    Explain {
        /// Only actions of this target.
        label: Option<String>,
        /// Which recent invocation that ran something: 0 (the default) is the latest.
        #[arg(long, default_value_t = 0)]
        invocation: usize,
        #[arg(long)]
        cache_dir: Option<std::path::PathBuf>,
    },
    /// Targets matching a pattern, with their kinds and dependencies.
    Query {
        #[command(flatten)]
        opts: BuildOpts,
        pattern: String,
    },
    /// The actions of the targets matching a pattern, as JSON lines.
    Aquery {
        #[command(flatten)]
        opts: BuildOpts,
        pattern: String,
    },
    /// Run clippy on every crate of the matching targets (default //...), like
    /// `cargo clippy --all-targets`: one cached action per crate (`RustClippy`). Lint levels
    /// go after `--`: `relink clippy //... -- -Dwarnings`.
    Clippy {
        #[command(flatten)]
        opts: BuildOpts,
        #[arg(default_value = "//...")]
        patterns: Vec<String>,
        /// rustc lint flags for this run (`-Dwarnings`, `-Wclippy::pedantic`).
        #[arg(last = true)]
        lint_flags: Vec<String>,
    },
    /// Format the crates of the matching targets with rustfmt (default //...), like
    /// `cargo fmt`; `--check` only reports (exit 1 when something is not formatted).
    Fmt {
        #[command(flatten)]
        opts: BuildOpts,
        #[arg(long)]
        check: bool,
        #[arg(default_value = "//...")]
        patterns: Vec<String>,
    },
    /// Write rust-project.json for rust-analyzer: every crate the targets matching the
    /// patterns compile (default //...), after building the build-script outputs and proc
    /// macros it names (the `gen_rust_project` of rules_rust).
    RustProject {
        #[command(flatten)]
        opts: BuildOpts,
        /// Where to write it (default: rust-project.json at the workspace root).
        #[arg(long)]
        out: Option<std::path::PathBuf>,
        #[arg(default_value = "//...")]
        patterns: Vec<String>,
    },
    /// Generate BUILD files from a Cargo workspace: vendor registry crates (checked against
    /// Cargo.lock) and describe workspace members.
    Import {
        #[command(flatten)]
        opts: import::ImportOpts,
    },
    /// Check every blob of the store against its digest; removes the damaged ones (and so the
    /// action results that name them: those actions run again).
    Verify {
        #[arg(long)]
        cache_dir: Option<std::path::PathBuf>,
    },
    /// The local cache: its size limit (`gc`) and its integrity (`verify`).
    Cache {
        #[command(subcommand)]
        action: CacheAction,
    },
    /// Remove relink-bin/ and this workspace's build records (the shared cache stays), and the
    /// sandboxes of relink processes that are gone.
    Clean {
        /// Also empty the whole cache.
        #[arg(long)]
        expunge: bool,
        #[arg(long)]
        cache_dir: Option<std::path::PathBuf>,
    },
}

/// `-j`: a job count of at least one.
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("at least 1 job is needed".to_string()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("`{text}` is not a number of jobs")),
    }
}

/// A remote's address as Bazel takes it: `grpc://HOST:PORT` (a server that cannot be reached
/// is a warning later; an address that is not one is an error now).
fn remote_url(text: &str) -> Result<String, String> {
    match text.split_once("://") {
        Some(("grpc" | "http" | "grpcs" | "https", rest))
            if !rest.is_empty() && !rest.contains(char::is_whitespace) =>
        {
            Ok(text.to_string())
        }
        _ => Err(format!("`{text}` is not a remote address: expected grpc://HOST:PORT")),
    }
}

/// `relink cache ...`.
#[derive(Subcommand, Debug)]
pub enum CacheAction {
    /// Shrink the store to its size limit: the least recently used action results go first,
    /// then every blob no remaining result names. Builds do this on their own at most once an
    /// hour; nothing is removed while a build runs.
    Gc {
        /// The limit (`10G`, `512M`; K, M, G, T are powers of 1024). Default: RELINK_CACHE_MAX_SIZE,
        /// else 20G.
        #[arg(long)]
        max_size: Option<String>,
        #[arg(long)]
        cache_dir: Option<std::path::PathBuf>,
    },
    /// Check every blob of the store against its digest (as `relink verify`).
    Verify {
        #[arg(long)]
        cache_dir: Option<std::path::PathBuf>,
    },
}

fn main() {
    // Actions run as the same user: without this, one could read relink's environment (tokens
    // the user has set) from /proc/<relink>/environ.
    // SAFETY: prctl with constant arguments.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
    let cli = Cli::parse();
    let code = match commands::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("ERROR: {err:#}");
            commands::exit_code(&err)
        }
    };
    std::process::exit(code);
}
