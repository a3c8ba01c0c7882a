//! A remote cache: relink as a client of the Remote Execution API v2 (`--remote_cache`).
//!
//! An action that misses the local cache is looked up in the server's action cache; a hit's
//! blobs are downloaded (checked against their digests) into the local store. An action that
//! runs locally has its outputs and result uploaded. Digests are BLAKE3, relink's own, when
//! the server offers it (NativeLink does), else SHA256 (REAPI's default, e.g. bazel-remote):
//! then every blob relink sends is hashed again with SHA256 (remembered in the local cache by
//! BLAKE3 digest), and every blob a result names is downloaded, because the local store needs
//! its BLAKE3 digest. Local-only actions (`no-remote`: rustc's incremental state makes outputs
//! depend on history) never go remote.
//!
//! The remote action is relink's action key in REAPI form: a `Command` whose arguments are the
//! key (which already covers argv, env, every input's digest and the outputs) and an empty
//! input root. Such entries are relink's own: a cache shared with Bazel keeps both, but they do
//! not answer each other's actions.
//!
//! A server that is down, slow or answers with errors never fails a build: after bounded
//! retries relink says so once and goes on locally.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use bazel_remote_apis::build::bazel::remote::execution::v2 as re;
use bazel_remote_apis::google::bytestream as bs;
use prost::Message;
use tonic::transport::Channel;

mod execute;
mod transfer;

use super::cache::{ActionResult, Cache, OutputFile};
use super::provenance::{ActionMeta, Signer, TrustPolicy};
use relink_core::digest::{digest_bytes, hex};

/// The type of the signed provenance in an ActionResult's auxiliary metadata.
const ENVELOPE_TYPE: &str = "type.googleapis.com/relink.DsseEnvelope";

/// Where and how to reach the remote cache.
#[derive(Clone, Debug)]
pub struct RemoteOptions {
    /// `grpc://HOST:PORT` (`http://` also accepted).
    pub url: String,
    /// REAPI instance name (`--remote_instance_name`).
    pub instance: String,
    /// Upload results of actions run locally (`--remote_upload_local_results`).
    pub upload: bool,
    /// Limit of one remote call.
    pub timeout: Duration,
    /// Download every output of a remote hit at once (`--remote_download_outputs=all`), or
    /// only small ones, the rest when a local action or the requested outputs need them
    /// (`toplevel`).
    pub download_all: bool,
    /// This user's signing key (created on first use).
    pub signing_key: std::path::PathBuf,
    /// The workspace, whose `.relink/trust.json` says which keys may provide results.
    pub workspace_root: std::path::PathBuf,
    /// Run actions on the server's workers (`--remote_executor`), not only cache them.
    pub execute: bool,
    /// Platform properties of executed actions (`--remote_default_exec_properties`).
    pub exec_properties: Vec<(String, String)>,
    /// How long an action may wait for a worker before it runs here instead.
    pub queue_timeout: Duration,
    /// `--digest_function`: the one to use; `None`: BLAKE3 if the server offers it, else SHA256.
    pub digest_function: Option<DigestFunction>,
}

/// A digest function of the Remote Execution API that relink speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DigestFunction {
    /// relink's own: local store digests are used as they are.
    Blake3,
    /// REAPI's default, which every server accepts.
    Sha256,
}

impl DigestFunction {
    /// `blake3` or `sha256` (any case), as `--digest_function` takes it.
    pub fn parse(name: &str) -> Result<DigestFunction> {
        match name.to_ascii_lowercase().as_str() {
            "blake3" => Ok(DigestFunction::Blake3),
            "sha256" => Ok(DigestFunction::Sha256),
            _ => bail!("--digest_function={name}: expected blake3 or sha256"),
        }
    }

    fn value(self) -> i32 {
        match self {
            DigestFunction::Blake3 => re::digest_function::Value::Blake3 as i32,
            DigestFunction::Sha256 => re::digest_function::Value::Sha256 as i32,
        }
    }

    fn hash(self, data: &[u8]) -> String {
        match self {
            DigestFunction::Blake3 => digest_bytes(data),
            DigestFunction::Sha256 => {
                use sha2::Digest as _;
                hex(&sha2::Sha256::digest(data))
            }
        }
    }

    fn digest(self, data: &[u8]) -> re::Digest {
        re::Digest { hash: self.hash(data), size_bytes: data.len() as i64 }
    }

    /// Its part of a ByteStream resource name: SHA256, the original function, has none.
    fn resource_segment(self) -> &'static str {
        match self {
            DigestFunction::Blake3 => "blake3/",
            DigestFunction::Sha256 => "",
        }
    }
}

/// One input file of a remotely executed action.
pub struct RemoteInput {
    /// Execroot-relative path.
    pub path: String,
    pub digest: String,
    pub size: u64,
    pub executable: bool,
    /// Where its bytes are here.
    pub disk: std::path::PathBuf,
}

/// What a remote execution returned.
pub struct RemoteRun {
    pub exit_code: i32,
    pub stderr: Vec<u8>,
    /// The outputs, now in the local store (when the action succeeded).
    pub result: ActionResult,
    /// The worker that ran it.
    pub worker: String,
}

/// A connected remote cache; all methods degrade to "nothing remote" after a failure.
pub struct RemoteCache {
    runtime: tokio::runtime::Runtime,
    channel: Channel,
    opts: RemoteOptions,
    /// Largest batch request the server accepts (bytes of blob data, with margin for framing).
    max_batch: usize,
    /// Set after a failed call: the rest of the build is local.
    broken: AtomicBool,
    /// Sizes of the blobs remote results named (a ByteStream read needs the size).
    sizes: std::sync::Mutex<std::collections::HashMap<String, i64>>,
    /// Blobs this build uploaded or found on the server, and those being uploaded now: actions
    /// that run side by side share inputs (the toolchain's hundreds of megabytes), which go up
    /// once.
    uploads: UploadLedger,
    signer: Signer,
    policy: TrustPolicy,
    /// `--remote_default_exec_properties`, sorted: part of every remote action.
    platform: re::Platform,
    /// The digest function agreed with the server.
    digests: DigestFunction,
    /// SHA256 only: which local (BLAKE3) and remote digests name the same blob, as far as
    /// this build has hashed, read from the cache's memo, or downloaded.
    pairs: std::sync::Mutex<DigestPairs>,
    /// Held while a blob is hashed for the remote (SHA256 only).
    hashing: std::sync::Mutex<()>,
}

/// Bytes per ByteStream write message.
const CHUNK: usize = 1 << 20;
/// ByteStream uploads one `write_missing` runs side by side.
const PARALLEL_STREAMS: usize = 4;
/// Attempts of one call before the remote is given up for this build.
const ATTEMPTS: u32 = 3;
use execute::*;
use transfer::*;

impl RemoteCache {
    /// Connect and read the server's capabilities: it must offer BLAKE3 or SHA256 digests and
    /// an action cache that accepts results. Errors say which server and what is missing.
    pub fn connect(opts: RemoteOptions) -> Result<RemoteCache> {
        let url = match opts.url.split_once("://") {
            Some(("grpc" | "http", rest)) => format!("http://{rest}"),
            Some(("grpcs" | "https", _)) => bail!("--remote_cache={}: TLS is not supported yet; use grpc://", opts.url),
            _ => bail!("--remote_cache={}: expected grpc://HOST:PORT", opts.url),
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("cannot start the remote cache client")?;
        let endpoint = Channel::from_shared(url.clone())
            .map_err(|e| anyhow!("--remote_cache={}: {e}", opts.url))?
            .connect_timeout(Duration::from_secs(3))
            .tcp_nodelay(true)
            .timeout(opts.timeout);
        let channel = runtime
            .block_on(async { tokio::time::timeout(Duration::from_secs(5), endpoint.connect()).await })
            .map_err(|_| anyhow!("{}: no connection within 5 s", opts.url))?
            .map_err(|e| anyhow!("{}: cannot connect: {e}", opts.url))?;
        let signer = Signer::load_or_create(&opts.signing_key)?;
        let policy = TrustPolicy::load(&opts.workspace_root, &signer)?;
        // The first call answers within 5 s or the build goes on without the remote.
        let patient = opts.timeout;
        let mut cache = RemoteCache {
            runtime,
            channel,
            opts: RemoteOptions { timeout: patient.min(Duration::from_secs(5)), ..opts },
            max_batch: 0,
            broken: AtomicBool::new(false),
            sizes: Default::default(),
            uploads: UploadLedger::default(),
            signer,
            policy,
            platform: re::Platform::default(),
            digests: DigestFunction::Blake3,
            pairs: Default::default(),
            hashing: Default::default(),
        };
        let mut properties: Vec<re::platform::Property> = cache
            .opts
            .exec_properties
            .iter()
            .map(|(k, v)| re::platform::Property { name: k.clone(), value: v.clone() })
            .collect();
        properties.sort_by(|a, b| (&a.name, &a.value).cmp(&(&b.name, &b.value)));
        cache.platform = re::Platform { properties };
        let caps = cache.capabilities()?;
        cache.opts.timeout = patient;
        let cc = caps.cache_capabilities.ok_or_else(|| anyhow!("{}: the server has no cache", cache.opts.url))?;
        // An empty list is an older server's way of saying SHA256 only.
        let offered = |f: DigestFunction| {
            cc.digest_functions.contains(&f.value()) || (f == DigestFunction::Sha256 && cc.digest_functions.is_empty())
        };
        cache.digests = match cache.opts.digest_function {
            Some(f) if offered(f) => f,
            Some(f) => bail!("{}: the server does not offer {f:?} digests (--digest_function)", cache.opts.url),
            None if offered(DigestFunction::Blake3) => DigestFunction::Blake3,
            None if offered(DigestFunction::Sha256) => DigestFunction::Sha256,
            None => bail!("{}: the server offers neither BLAKE3 nor SHA256 digests", cache.opts.url),
        };
        let limit = if cc.max_batch_total_size_bytes > 0 { cc.max_batch_total_size_bytes as usize } else { 4 << 20 };
        cache.max_batch = limit.saturating_sub(4096).max(1024);
        Ok(cache)
    }

    fn capabilities(&self) -> Result<re::ServerCapabilities> {
        let request = re::GetCapabilitiesRequest { instance_name: self.opts.instance.clone() };
        self.call("GetCapabilities", || async {
            let mut client = re::capabilities_client::CapabilitiesClient::new(self.channel.clone());
            client.get_capabilities(request.clone()).await.map(|r| r.into_inner())
        })
    }

    /// Whether this action may use the remote cache.
    pub fn usable_for(&self, requirements: &BTreeMap<String, String>) -> bool {
        !self.broken.load(Ordering::Relaxed) && !requirements.contains_key("no-remote")
    }

    /// The server, as given on the command line.
    pub fn url(&self) -> &str {
        &self.opts.url
    }

    /// Whether actions are executed remotely (`--remote_executor`).
    pub fn executes(&self) -> bool {
        self.opts.execute && !self.broken.load(Ordering::Relaxed)
    }

    fn cas(&self) -> re::content_addressable_storage_client::ContentAddressableStorageClient<Channel> {
        re::content_addressable_storage_client::ContentAddressableStorageClient::new(self.channel.clone())
    }

    fn action_cache(&self) -> re::action_cache_client::ActionCacheClient<Channel> {
        re::action_cache_client::ActionCacheClient::new(self.channel.clone())
    }

    fn byte_stream(&self) -> bs::byte_stream_client::ByteStreamClient<Channel> {
        bs::byte_stream_client::ByteStreamClient::new(self.channel.clone())
    }

    /// Whether local results should be uploaded.
    pub fn uploads(&self) -> bool {
        self.opts.upload
    }

    /// The result stored for the action of `meta`, its blobs now in the local store, if a key
    /// the workspace trusts signed it for that action; `None` on a miss, a refusal (said once
    /// per action) or when the remote is unusable.
    pub fn lookup(&self, meta: &ActionMeta, cache: &Cache) -> Option<ActionResult> {
        self.lookup_checked(meta.key, cache, Some(meta))
    }

    fn lookup_checked(&self, key: &str, cache: &Cache, meta: Option<&ActionMeta>) -> Option<ActionResult> {
        if self.broken.load(Ordering::Relaxed) {
            return None;
        }
        match self.try_lookup(key, cache, meta) {
            Ok(found) => found,
            // A result whose blobs the server lost (or never had): a miss, not a broken server.
            Err(e) if e.downcast_ref::<MissingBlob>().is_some() => None,
            Err(e) => {
                self.give_up(&e);
                None
            }
        }
    }

    /// Upload the blobs and the result of the action of `meta`, signed (best effort); the
    /// signed statement is also kept locally for `relink provenance`.
    pub fn upload(&self, meta: &ActionMeta, result: &ActionResult, cache: &Cache) {
        if self.broken.load(Ordering::Relaxed) || !self.opts.upload {
            return;
        }
        if let Err(e) = self.try_upload(meta.key, result, cache, Some(meta)) {
            self.give_up(&e);
        }
    }

    /// The inputs another build found unused for actions of pruning key `pruning_key` (the
    /// local record's remote twin: without it, a fresh checkout would look an action up under
    /// the key of all its inputs' contents and miss what the others stored under the pruned one).
    pub fn lookup_pruned(&self, pruning_key: &str, cache: &Cache) -> Option<std::collections::BTreeSet<String>> {
        // A hint, not a result: a key built with it only finds results trusted signers stored.
        let result = self.lookup_checked(&format!("pruned-inputs {pruning_key}"), cache, None)?;
        let file = result.files.first()?;
        let text = fs_err::read_to_string(cache.blob_path(&file.digest, file.executable)).ok()?;
        Some(text.lines().map(str::to_string).filter(|l| !l.is_empty()).collect())
    }

    /// Share the unused inputs of actions of pruning key `pruning_key` (best effort).
    pub fn upload_pruned(&self, pruning_key: &str, unused: &std::collections::BTreeSet<String>, cache: &Cache) {
        let text: String = unused.iter().map(|p| format!("{p}\n")).collect();
        match cache.store_bytes(text.as_bytes(), false) {
            Ok(digest) => {
                let file = OutputFile { path: "unused_inputs".to_string(), digest, executable: false };
                let result = ActionResult { files: vec![file], dirs: vec![] };
                if !self.broken.load(Ordering::Relaxed) && self.opts.upload {
                    if let Err(e) = self.try_upload(&format!("pruned-inputs {pruning_key}"), &result, cache, None) {
                        self.give_up(&e);
                    }
                }
            }
            Err(e) => self.give_up(&e),
        }
    }

    /// Download one output a remote result named, unless the local store has it.
    pub fn fetch(&self, file: &OutputFile, cache: &Cache) -> Result<()> {
        if cache.blob_ok(&file.digest, file.executable) {
            return Ok(());
        }
        let size = self
            .sizes
            .lock()
            .unwrap()
            .get(&file.digest)
            .copied()
            .ok_or_else(|| anyhow!("{} is not an output of a remote result of this build", file.path))?;
        let data = self.read_blob(&re::Digest { hash: file.digest.clone(), size_bytes: size })?;
        cache.store_bytes(&data, file.executable)?;
        Ok(())
    }

    /// Stop using the remote for the rest of the build, saying why once.
    pub fn give_up(&self, e: &anyhow::Error) {
        if !self.broken.swap(true, Ordering::Relaxed) {
            eprintln!("relink: WARNING: remote cache {}: {e:#}; the rest of this build is local", self.opts.url);
        }
    }

    fn try_lookup(&self, key: &str, cache: &Cache, meta: Option<&ActionMeta>) -> Result<Option<ActionResult>> {
        let (action, _, _) = remote_action(key, self.platform(), self.digests);
        let request = re::GetActionResultRequest {
            instance_name: self.opts.instance.clone(),
            action_digest: Some(action),
            inline_stdout: false,
            inline_stderr: false,
            inline_output_files: Vec::new(),
            digest_function: self.digests.value(),
        };
        let found = self.call_allowing_not_found("GetActionResult", || async {
            let mut client = self.action_cache();
            client.get_action_result(request.clone()).await.map(|r| r.into_inner())
        })?;
        let Some(found) = found else { return Ok(None) };
        if found.exit_code != 0 {
            return Ok(None);
        }
        let (files, dirs) = self.result_files(&found).with_context(|| format!("the remote result of {key}"))?;
        if self.digests != DigestFunction::Blake3 {
            // The local store and the signed statement name blobs by BLAKE3: download first.
            self.download(&files, |_| true, cache)?;
        }
        let result = local_result(self.localize(files.clone())?, dirs);
        if let Some(meta) = meta {
            let envelope = found
                .execution_metadata
                .as_ref()
                .and_then(|m| m.auxiliary_metadata.iter().find(|a| a.type_url == ENVELOPE_TYPE))
                .map(|a| a.value.as_slice());
            match self.policy.verify(envelope, meta, &result.files) {
                Ok(_) => cache.record_provenance(key, envelope.unwrap_or_default())?,
                Err(why) => {
                    eprintln!(
                        "relink: WARNING: refused the remote result of {} {}: {why:#}; running it here",
                        meta.mnemonic, meta.target
                    );
                    return Ok(None);
                }
            }
        }
        let wanted = |d: &re::Digest| self.opts.download_all || d.size_bytes as usize <= self.max_batch;
        self.download(&files, wanted, cache)?;
        Ok(Some(result))
    }

    fn try_upload(&self, key: &str, result: &ActionResult, cache: &Cache, meta: Option<&ActionMeta>) -> Result<()> {
        let (action_digest, action, command) = remote_action(key, self.platform(), self.digests);
        let mut blobs: Vec<Blob> = vec![
            Blob::Bytes(self.digests.digest(&action), action),
            Blob::Bytes(self.digests.digest(&command), command),
        ];
        let mut remote = re::ActionResult { exit_code: 0, ..Default::default() };
        let in_dir = |f: &OutputFile| result.dirs.iter().any(|d| f.path.starts_with(&format!("{d}/")));
        for f in result.files.iter().filter(|f| !in_dir(f)) {
            let digest = self.file_digest(cache, f)?;
            remote.output_files.push(re::OutputFile {
                path: f.path.clone(),
                digest: Some(digest.clone()),
                is_executable: f.executable,
                ..Default::default()
            });
            blobs.push(Blob::File(digest, cache.blob_path(&f.digest, f.executable)));
        }
        for dir in &result.dirs {
            let inside: Vec<&OutputFile> =
                result.files.iter().filter(|f| f.path.starts_with(&format!("{dir}/"))).collect();
            let tree = build_tree(dir, &inside, |f| self.file_digest(cache, f), self.digests)?;
            let bytes = tree.encode_to_vec();
            let tree_digest = self.digests.digest(&bytes);
            for f in &inside {
                blobs.push(Blob::File(self.file_digest(cache, f)?, cache.blob_path(&f.digest, f.executable)));
            }
            blobs.push(Blob::Bytes(tree_digest.clone(), bytes));
            remote.output_directories.push(re::OutputDirectory {
                path: dir.clone(),
                tree_digest: Some(tree_digest),
                ..Default::default()
            });
        }
        if let Some(meta) = meta {
            let envelope = self.signer.sign(meta, &result.files);
            cache.record_provenance(key, &envelope)?;
            remote.execution_metadata = Some(re::ExecutedActionMetadata {
                worker: format!("relink (key {})", &self.signer.public_hex()[..16]),
                auxiliary_metadata: vec![bazel_remote_apis::google::protobuf::Any {
                    type_url: ENVELOPE_TYPE.to_string(),
                    value: envelope,
                }],
                ..Default::default()
            });
        }
        self.write_missing(blobs)?;
        let request = re::UpdateActionResultRequest {
            instance_name: self.opts.instance.clone(),
            action_digest: Some(action_digest),
            action_result: Some(remote),
            results_cache_policy: None,
            digest_function: self.digests.value(),
        };
        self.call("UpdateActionResult", || async {
            let mut client = self.action_cache();
            client.update_action_result(request.clone()).await.map(|r| r.into_inner())
        })?;
        Ok(())
    }

    fn instance_prefix(&self) -> String {
        if self.opts.instance.is_empty() {
            String::new()
        } else {
            format!("{}/", self.opts.instance)
        }
    }

    fn call<T, F, Fut>(&self, what: &str, f: F) -> Result<T>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = std::result::Result<T, tonic::Status>>,
    {
        self.call_allowing_not_found(what, f)?.ok_or_else(|| anyhow!("{what}: not found"))
    }

    /// Run one call with a time limit, retrying transient errors with backoff; `NotFound` is
    /// `Ok(None)`.
    fn call_allowing_not_found<T, F, Fut>(&self, what: &str, f: F) -> Result<Option<T>>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = std::result::Result<T, tonic::Status>>,
    {
        let mut last = String::new();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(100 << (2 * attempt)));
            }
            match self.runtime.block_on(async { tokio::time::timeout(self.opts.timeout, f()).await }) {
                Ok(Ok(value)) => return Ok(Some(value)),
                Ok(Err(status)) if status.code() == tonic::Code::NotFound => return Ok(None),
                Ok(Err(status)) => {
                    let transient = matches!(
                        status.code(),
                        tonic::Code::Unavailable
                            | tonic::Code::DeadlineExceeded
                            | tonic::Code::ResourceExhausted
                            | tonic::Code::Aborted
                            | tonic::Code::Internal
                            | tonic::Code::Unknown
                    );
                    last = format!("{what}: {} ({:?})", status.message(), status.code());
                    if !transient {
                        bail!("{last}");
                    }
                }
                Err(_) => last = format!("{what}: no answer within {} s", self.opts.timeout.as_secs()),
            }
        }
        bail!("{last} (after {ATTEMPTS} attempts)")
    }
}

#[cfg(test)]
mod tests;
