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

use super::cache::{ActionResult, Cache, OutputFile};
use super::provenance::{ActionMeta, Signer, TrustPolicy};
use crate::digest::{digest_bytes, hex};

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

    /// Run an action on the server's workers: upload its input tree, Command and Action, wait
    /// for the result (at most `queue_timeout` for a worker, then `timeout` for the run), and
    /// bring its outputs into the local store. An error is the remote's (the caller runs the
    /// action here); the action's own failure is a nonzero `exit_code`.
    pub fn execute(
        &self,
        argv: &[String],
        env: &BTreeMap<String, String>,
        inputs: Vec<RemoteInput>,
        outputs: &[String],
        timeout: Duration,
        cache: &Cache,
    ) -> Result<RemoteRun> {
        let mut inputs = inputs;
        for i in inputs.iter_mut() {
            i.digest = self.remote_hash(cache, &i.digest, &i.disk)?;
        }
        let (root, directories) = input_tree(&inputs, self.digests);
        let command = re::Command {
            arguments: argv.to_vec(),
            environment_variables: env
                .iter()
                .map(|(k, v)| re::command::EnvironmentVariable { name: k.clone(), value: v.clone() })
                .collect(),
            output_paths: outputs.to_vec(),
            ..Default::default()
        }
        .encode_to_vec();
        let action = re::Action {
            command_digest: Some(self.digests.digest(&command)),
            input_root_digest: Some(root),
            // No server-side limit (servers cap it, NativeLink at 20 min): relink waits at most
            // `timeout` for the result itself.
            platform: Some(self.platform().clone()),
            ..Default::default()
        }
        .encode_to_vec();
        let action_digest = self.digests.digest(&action);
        let mut blobs =
            vec![Blob::Bytes(self.digests.digest(&command), command), Blob::Bytes(action_digest.clone(), action)];
        blobs.extend(directories.into_iter().map(|(d, b)| Blob::Bytes(d, b)));
        for i in inputs {
            blobs.push(Blob::File(re::Digest { hash: i.digest, size_bytes: i.size as i64 }, i.disk));
        }
        self.write_missing(blobs)?;
        let response = self.wait_for_execution(&action_digest, timeout)?;
        if let Some(status) = response.status.as_ref().filter(|s| s.code != 0) {
            bail!("Execute: {} (code {})", status.message, status.code);
        }
        let found = response.result.ok_or_else(|| anyhow!("Execute returned no result"))?;
        let stderr = match &found.stderr_digest {
            Some(d) if d.size_bytes > 0 => self.read_blobs(std::slice::from_ref(d))?.pop().unwrap_or_default(),
            _ => found.stderr_raw.clone(),
        };
        let worker = found.execution_metadata.as_ref().map(|m| m.worker.clone()).unwrap_or_default();
        let exit_code = found.exit_code;
        let result = if exit_code == 0 {
            self.materialize_result(&found, cache)?
        } else {
            ActionResult { files: vec![], dirs: vec![] }
        };
        Ok(RemoteRun { exit_code, stderr, result, worker })
    }

    fn platform(&self) -> &re::Platform {
        &self.platform
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

    /// Execute and follow the operation until it is done; a worker must take it within
    /// `queue_timeout` (NativeLink queues an action no worker matches forever and says nothing).
    fn wait_for_execution(&self, action_digest: &re::Digest, timeout: Duration) -> Result<re::ExecuteResponse> {
        use bazel_remote_apis::google::longrunning::operation::Result as OpResult;
        let request = re::ExecuteRequest {
            instance_name: self.opts.instance.clone(),
            skip_cache_lookup: false,
            action_digest: Some(action_digest.clone()),
            execution_policy: None,
            results_cache_policy: None,
            digest_function: self.digests.value(),
            ..Default::default()
        };
        let queue_timeout = self.opts.queue_timeout;
        let properties = format!("{:?}", self.opts.exec_properties);
        self.runtime.block_on(async {
            let mut client = re::execution_client::ExecutionClient::new(self.channel.clone());
            let mut stream = tokio::time::timeout(Duration::from_secs(30), client.execute(request))
                .await
                .map_err(|_| anyhow!("Execute: no answer within 30 s"))?
                .map_err(|s| anyhow!("Execute: {}", s.message()))?
                .into_inner();
            let started = tokio::time::Instant::now();
            let mut executing = false;
            loop {
                let limit = if executing { timeout + Duration::from_secs(30) } else { queue_timeout };
                let left = limit.saturating_sub(started.elapsed());
                let next = tokio::time::timeout(left, stream.message()).await.map_err(|_| {
                    if executing {
                        anyhow!("Execute: no result within {} s", limit.as_secs())
                    } else {
                        anyhow!(
                            "no worker took the action within {} s (platform properties {properties})",
                            limit.as_secs()
                        )
                    }
                })?;
                let op = next
                    .map_err(|s| anyhow!("Execute: {}", s.message()))?
                    .ok_or_else(|| anyhow!("Execute: the stream ended early"))?;
                if let Some(meta) = &op.metadata {
                    if let Ok(m) = re::ExecuteOperationMetadata::decode(meta.value.as_slice()) {
                        executing |= m.stage >= re::execution_stage::Value::Executing as i32;
                    }
                }
                if !op.done {
                    continue;
                }
                return match op.result {
                    Some(OpResult::Response(any)) => Ok(re::ExecuteResponse::decode(any.value.as_slice())?),
                    Some(OpResult::Error(status)) => Err(anyhow!("Execute: {} (code {})", status.message, status.code)),
                    None => Err(anyhow!("Execute: done without a result")),
                };
            }
        })
    }

    /// The outputs of a remote result, in the local store (all of them: a remote execution's
    /// outputs feed actions that may run here).
    fn materialize_result(&self, found: &re::ActionResult, cache: &Cache) -> Result<ActionResult> {
        let (files, dirs) = self.result_files(found)?;
        self.download(&files, |_| true, cache)?;
        Ok(local_result(self.localize(files)?, dirs))
    }

    /// The files of a remote result (its output files, and the files of its output
    /// directories' trees) and its output directories.
    fn result_files(&self, found: &re::ActionResult) -> Result<(Vec<RemoteFile>, Vec<String>)> {
        let mut files = Vec::new();
        for f in &found.output_files {
            let digest = f.digest.clone().ok_or_else(|| anyhow!("output {} has no digest", f.path))?;
            files.push((f.path.clone(), digest, f.is_executable));
        }
        let mut dirs = Vec::new();
        for d in &found.output_directories {
            let tree_digest =
                d.tree_digest.clone().ok_or_else(|| anyhow!("output directory {} has no tree", d.path))?;
            let tree = re::Tree::decode(self.read_blob(&tree_digest)?.as_slice())
                .with_context(|| format!("the tree of output directory {}", d.path))?;
            files.extend(tree_files(&d.path, &tree, self.digests)?);
            dirs.push(d.path.clone());
        }
        Ok((files, dirs))
    }

    /// Bring the `wanted` blobs of `files` the local store lacks into it, each checked against
    /// its digest; remember every size (a later `fetch` needs it).
    fn download(&self, files: &[RemoteFile], wanted: impl Fn(&re::Digest) -> bool, cache: &Cache) -> Result<()> {
        self.sizes.lock().unwrap().extend(files.iter().map(|(_, d, _)| (d.hash.clone(), d.size_bytes)));
        let present = |d: &re::Digest, executable: bool| match self.known_local(&d.hash) {
            Some(local) => cache.blob_ok(&local, executable),
            None => false,
        };
        let missing: Vec<&RemoteFile> = files.iter().filter(|(_, d, x)| wanted(d) && !present(d, *x)).collect();
        let fetched = self.read_blobs(&missing.iter().map(|(_, d, _)| d.clone()).collect::<Vec<_>>())?;
        for ((_, digest, executable), data) in missing.iter().zip(fetched) {
            let arrived = self.digests.hash(&data);
            if arrived != digest.hash {
                bail!("blob {} arrived with digest {arrived}: refused", digest.hash);
            }
            let stored = cache.store_bytes(&data, *executable)?;
            if self.digests != DigestFunction::Blake3 {
                self.remember_remote_hash(cache, &stored, &digest.hash);
            }
        }
        Ok(())
    }

    /// The local (BLAKE3) digest of the blob with remote digest `hash`, when known: always
    /// under BLAKE3; under SHA256 once this build has downloaded or hashed that blob.
    fn known_local(&self, hash: &str) -> Option<String> {
        match self.digests {
            DigestFunction::Blake3 => Some(hash.to_string()),
            DigestFunction::Sha256 => self.pairs().local_of.get(hash).cloned(),
        }
    }

    /// Remote files with their local digests (each must have been downloaded).
    fn localize(&self, files: Vec<RemoteFile>) -> Result<Vec<RemoteFile>> {
        files
            .into_iter()
            .map(|(path, d, x)| {
                let hash = self.known_local(&d.hash).ok_or_else(|| anyhow!("{path} was not downloaded"))?;
                Ok((path, re::Digest { hash, ..d }, x))
            })
            .collect()
    }

    /// The remote digest's hash of a local blob (`local`, BLAKE3, its bytes at `path`): the
    /// same under BLAKE3; under SHA256 computed once and kept in the local cache.
    fn remote_hash(&self, cache: &Cache, local: &str, path: &std::path::Path) -> Result<String> {
        if self.digests == DigestFunction::Blake3 {
            return Ok(local.to_string());
        }
        if let Some(known) = self.pairs().remote_of.get(local) {
            return Ok(known.clone());
        }
        let memo = sha256_memo(cache, local);
        let remembered = || fs_err::read_to_string(&memo).ok().filter(|known| known.len() == 64);
        if let Some(known) = remembered() {
            self.pairs().insert(local, &known);
            return Ok(known);
        }
        // One hashing at a time: actions side by side share inputs (the toolchain), and the
        // second finds what the first remembered.
        let _one = self.hashing.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(known) = remembered() {
            return Ok(known);
        }
        let data = fs_err::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let hash = self.digests.hash(&data);
        self.remember_remote_hash(cache, local, &hash);
        Ok(hash)
    }

    /// The remote digest of output `f`, whose blob is in the local store.
    fn file_digest(&self, cache: &Cache, f: &OutputFile) -> Result<re::Digest> {
        let path = cache.blob_path(&f.digest, f.executable);
        let size = fs_err::metadata(&path).with_context(|| format!("blob of {} is missing", f.path))?.len();
        Ok(re::Digest { hash: self.remote_hash(cache, &f.digest, &path)?, size_bytes: size as i64 })
    }

    fn pairs(&self) -> std::sync::MutexGuard<'_, DigestPairs> {
        self.pairs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keep `remote` as the SHA256 of local blob `local` (best effort: a lost memo is hashed again).
    fn remember_remote_hash(&self, cache: &Cache, local: &str, remote: &str) {
        self.pairs().insert(local, remote);
        let memo = sha256_memo(cache, local);
        if let Some(dir) = memo.parent() {
            let _ = fs_err::create_dir_all(dir);
            let tmp = dir.join(format!("{local}.tmp{}", std::process::id()));
            if fs_err::write(&tmp, remote).is_ok() {
                let _ = fs_err::rename(&tmp, &memo);
            }
        }
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

    /// Upload the blobs the server does not have: small ones in batches, large ones through
    /// ByteStream.
    /// Blobs another action is uploading at the same time are waited for, not sent twice.
    fn write_missing(&self, blobs: Vec<Blob>) -> Result<()> {
        let mut unique: BTreeMap<String, Blob> = BTreeMap::new();
        for b in blobs {
            if !self.uploads.is_present(&b.digest().hash) {
                unique.entry(b.digest().hash.clone()).or_insert(b);
            }
        }
        if unique.is_empty() {
            return Ok(());
        }
        let request = re::FindMissingBlobsRequest {
            instance_name: self.opts.instance.clone(),
            blob_digests: unique.values().map(|b| b.digest().clone()).collect(),
            digest_function: self.digests.value(),
        };
        let missing = self.call("FindMissingBlobs", || async {
            let mut client = self.cas();
            client.find_missing_blobs(request.clone()).await.map(|r| r.into_inner())
        })?;
        let missing_hashes: BTreeSet<&str> = missing.missing_blob_digests.iter().map(|d| d.hash.as_str()).collect();
        self.uploads.mark_present(unique.keys().filter(|h| !missing_hashes.contains(h.as_str())).cloned());
        let (mine, theirs) = self.uploads.claim(missing.missing_blob_digests);
        let sent = self.send(&unique, &mine);
        self.uploads.finish(&mine, sent.is_ok());
        sent?;
        self.uploads.wait_for(&theirs)
    }

    /// Upload `digests` (all in `unique`): small ones in batches, large ones through ByteStream,
    /// up to `PARALLEL_STREAMS` at a time (one HTTP/2 stream is bounded by its flow-control
    /// window, far below what the server takes).
    fn send(&self, unique: &BTreeMap<String, Blob>, digests: &[re::Digest]) -> Result<()> {
        let blob = |d: &re::Digest| {
            unique.get(&d.hash).ok_or_else(|| anyhow!("the server reported an unknown blob {} missing", d.hash))
        };
        let (large, small): (Vec<&re::Digest>, Vec<&re::Digest>) =
            digests.iter().partition(|d| d.size_bytes as usize > self.max_batch);
        let next = std::sync::atomic::AtomicUsize::new(0);
        let stream_all = || -> Result<()> {
            while let Some(d) = large.get(next.fetch_add(1, Ordering::Relaxed)) {
                self.write_stream(d, blob(d)?.data()?)?;
            }
            Ok(())
        };
        std::thread::scope(|scope| {
            let streams: Vec<_> = (0..PARALLEL_STREAMS.min(large.len())).map(|_| scope.spawn(stream_all)).collect();
            let mut batch: Vec<re::batch_update_blobs_request::Request> = Vec::new();
            let mut batch_bytes = 0;
            for digest in small {
                let data = blob(digest)?.data()?;
                if batch_bytes + data.len() > self.max_batch {
                    self.write_batch(std::mem::take(&mut batch))?;
                    batch_bytes = 0;
                }
                batch_bytes += data.len();
                batch.push(re::batch_update_blobs_request::Request {
                    digest: Some(digest.clone()),
                    data,
                    compressor: 0,
                });
            }
            if !batch.is_empty() {
                self.write_batch(batch)?;
            }
            streams.into_iter().try_for_each(|s| s.join().unwrap_or_else(|_| bail!("an upload thread panicked")))
        })
    }

    fn write_batch(&self, requests: Vec<re::batch_update_blobs_request::Request>) -> Result<()> {
        let request = re::BatchUpdateBlobsRequest {
            instance_name: self.opts.instance.clone(),
            requests,
            digest_function: self.digests.value(),
        };
        let response = self.call("BatchUpdateBlobs", || async {
            let mut client = self.cas();
            client.batch_update_blobs(request.clone()).await.map(|r| r.into_inner())
        })?;
        for r in response.responses {
            if let Some(status) = r.status.filter(|s| s.code != 0) {
                bail!("BatchUpdateBlobs: blob {}: {}", r.digest.map(|d| d.hash).unwrap_or_default(), status.message);
            }
        }
        Ok(())
    }

    fn write_stream(&self, digest: &re::Digest, data: Vec<u8>) -> Result<()> {
        let resource = format!(
            "{}uploads/{}/blobs/{}{}/{}",
            self.instance_prefix(),
            uuid::Uuid::new_v4(),
            self.digests.resource_segment(),
            digest.hash,
            digest.size_bytes
        );
        let data = std::sync::Arc::new(data);
        self.call("ByteStream.Write", || {
            let resource = resource.clone();
            let data = data.clone();
            async move {
                let mut requests = Vec::new();
                let mut offset = 0;
                loop {
                    let end = (offset + CHUNK).min(data.len());
                    requests.push(bs::WriteRequest {
                        resource_name: if offset == 0 { resource.clone() } else { String::new() },
                        write_offset: offset as i64,
                        finish_write: end == data.len(),
                        data: data[offset..end].to_vec(),
                    });
                    offset = end;
                    if offset == data.len() {
                        break;
                    }
                }
                let mut client = self.byte_stream();
                client.write(tokio_stream::iter(requests)).await.map(|r| r.into_inner())
            }
        })?;
        Ok(())
    }

    /// Blobs by digest, in order (batched when small).
    fn read_blobs(&self, digests: &[re::Digest]) -> Result<Vec<Vec<u8>>> {
        let mut out: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        let mut batch: Vec<re::Digest> = Vec::new();
        let mut batch_bytes = 0usize;
        let flush = |batch: &mut Vec<re::Digest>, out: &mut BTreeMap<String, Vec<u8>>| -> Result<()> {
            if batch.is_empty() {
                return Ok(());
            }
            let request = re::BatchReadBlobsRequest {
                instance_name: self.opts.instance.clone(),
                digests: std::mem::take(batch),
                acceptable_compressors: Vec::new(),
                digest_function: self.digests.value(),
            };
            let response = self.call("BatchReadBlobs", || async {
                let mut client = self.cas();
                client.batch_read_blobs(request.clone()).await.map(|r| r.into_inner())
            })?;
            for r in response.responses {
                let hash = r.digest.map(|d| d.hash).unwrap_or_default();
                if let Some(status) = r.status.filter(|s| s.code != 0) {
                    if status.code == tonic::Code::NotFound as i32 {
                        return Err(MissingBlob(hash).into());
                    }
                    bail!("BatchReadBlobs: blob {hash}: {}", status.message);
                }
                out.insert(hash, r.data);
            }
            Ok(())
        };
        for d in digests {
            let size = d.size_bytes as usize;
            if size > self.max_batch {
                out.insert(d.hash.clone(), self.read_blob(d)?);
                continue;
            }
            if batch_bytes + size > self.max_batch {
                flush(&mut batch, &mut out)?;
                batch_bytes = 0;
            }
            batch_bytes += size;
            batch.push(d.clone());
        }
        flush(&mut batch, &mut out)?;
        digests
            .iter()
            .map(|d| out.get(&d.hash).cloned().ok_or_else(|| anyhow!("the server did not return blob {}", d.hash)))
            .collect()
    }

    /// One blob through ByteStream, checked against its digest.
    fn read_blob(&self, digest: &re::Digest) -> Result<Vec<u8>> {
        let resource = format!(
            "{}blobs/{}{}/{}",
            self.instance_prefix(),
            self.digests.resource_segment(),
            digest.hash,
            digest.size_bytes
        );
        let data = self
            .call_allowing_not_found("ByteStream.Read", || {
                let resource = resource.clone();
                async move {
                    let mut client = self.byte_stream();
                    let mut stream = client
                        .read(bs::ReadRequest { resource_name: resource, read_offset: 0, read_limit: 0 })
                        .await?
                        .into_inner();
                    let mut data = Vec::new();
                    while let Some(chunk) = stream.message().await? {
                        data.extend_from_slice(&chunk.data);
                    }
                    Ok(data)
                }
            })?
            .ok_or_else(|| MissingBlob(digest.hash.clone()))?;
        if self.digests.hash(&data) != digest.hash || data.len() as i64 != digest.size_bytes {
            bail!("blob {} arrived damaged: refused", digest.hash);
        }
        Ok(data)
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

/// A file of a remote result: execroot path, digest, executable.
type RemoteFile = (String, re::Digest, bool);

/// Local (BLAKE3) and remote (SHA256) digests of the same blobs, both ways.
#[derive(Default)]
struct DigestPairs {
    remote_of: std::collections::HashMap<String, String>,
    local_of: std::collections::HashMap<String, String>,
}

impl DigestPairs {
    fn insert(&mut self, local: &str, remote: &str) {
        self.remote_of.insert(local.to_string(), remote.to_string());
        self.local_of.insert(remote.to_string(), local.to_string());
    }
}

/// What this build knows the server holds, and which uploads are under way (by BLAKE3 hash).
#[derive(Default)]
struct UploadLedger {
    state: std::sync::Mutex<LedgerState>,
    done: std::sync::Condvar,
}

#[derive(Default)]
struct LedgerState {
    present: HashSet<String>,
    uploading: HashSet<String>,
}

impl UploadLedger {
    fn is_present(&self, hash: &str) -> bool {
        self.lock().present.contains(hash)
    }

    fn mark_present(&self, hashes: impl Iterator<Item = String>) {
        self.lock().present.extend(hashes);
    }

    /// Split missing blobs into those this caller uploads and those another caller already is.
    fn claim(&self, missing: Vec<re::Digest>) -> (Vec<re::Digest>, Vec<String>) {
        let mut state = self.lock();
        let (mut mine, mut theirs) = (Vec::new(), Vec::new());
        for d in missing {
            if state.present.contains(&d.hash) {
                continue;
            }
            if state.uploading.insert(d.hash.clone()) {
                mine.push(d);
            } else {
                theirs.push(d.hash);
            }
        }
        (mine, theirs)
    }

    fn finish(&self, digests: &[re::Digest], ok: bool) {
        let mut state = self.lock();
        for d in digests {
            state.uploading.remove(&d.hash);
            if ok {
                state.present.insert(d.hash.clone());
            }
        }
        drop(state);
        self.done.notify_all();
    }

    /// Wait until other callers' uploads of `hashes` end; an error if one of them failed.
    fn wait_for(&self, hashes: &[String]) -> Result<()> {
        let mut state = self.lock();
        while hashes.iter().any(|h| state.uploading.contains(h)) {
            state = self.done.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        match hashes.iter().find(|h| !state.present.contains(*h)) {
            Some(h) => bail!("the upload of blob {h} by another action failed"),
            None => Ok(()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LedgerState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A remote result's files as a local result (sorted by path, as a local run lists them).
fn local_result(files: Vec<RemoteFile>, dirs: Vec<String>) -> ActionResult {
    let mut out: Vec<OutputFile> =
        files.into_iter().map(|(path, d, executable)| OutputFile { path, digest: d.hash, executable }).collect();
    out.sort_by(|x, y| x.path.cmp(&y.path));
    ActionResult { files: out, dirs }
}

/// A blob a remote result names that the server does not have.
#[derive(Debug)]
struct MissingBlob(String);

impl std::fmt::Display for MissingBlob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the remote cache does not have blob {}", self.0)
    }
}

impl std::error::Error for MissingBlob {}

/// A blob to upload: bytes at hand, or a file of the local store.
enum Blob {
    Bytes(re::Digest, Vec<u8>),
    File(re::Digest, std::path::PathBuf),
}

impl Blob {
    fn digest(&self) -> &re::Digest {
        match self {
            Blob::Bytes(d, _) | Blob::File(d, _) => d,
        }
    }

    fn data(&self) -> Result<Vec<u8>> {
        match self {
            Blob::Bytes(_, b) => Ok(b.clone()),
            Blob::File(_, p) => fs_err::read(p).with_context(|| format!("cannot read {}", p.display())),
        }
    }
}

/// Where the SHA256 of local blob `local` is remembered.
fn sha256_memo(cache: &Cache, local: &str) -> std::path::PathBuf {
    cache.root.join("remote-sha256").join(&local[..2.min(local.len())]).join(local)
}

/// The REAPI action standing for relink action key `key`: (action digest, Action bytes,
/// Command bytes).
fn remote_action(key: &str, platform: &re::Platform, digests: DigestFunction) -> (re::Digest, Vec<u8>, Vec<u8>) {
    let command = re::Command {
        arguments: vec!["relink-action".to_string(), super::KEY_VERSION.to_string(), key.to_string()],
        ..Default::default()
    }
    .encode_to_vec();
    let empty_root = re::Directory::default().encode_to_vec();
    let action = re::Action {
        command_digest: Some(digests.digest(&command)),
        input_root_digest: Some(digests.digest(&empty_root)),
        // Results of one platform never answer for another (`--remote_default_exec_properties`).
        platform: (!platform.properties.is_empty()).then(|| platform.clone()),
        ..Default::default()
    }
    .encode_to_vec();
    (digests.digest(&action), action, command)
}

/// The input root of an action: its digest and every Directory blob.
fn input_tree(inputs: &[RemoteInput], digests: DigestFunction) -> (re::Digest, Vec<(re::Digest, Vec<u8>)>) {
    #[derive(Default)]
    struct Node {
        files: BTreeMap<String, re::FileNode>,
        dirs: BTreeMap<String, Node>,
    }
    let mut root = Node::default();
    for i in inputs {
        let mut parts: Vec<&str> = i.path.split('/').collect();
        let name = parts.pop().expect("a file name");
        let mut node = &mut root;
        for p in parts {
            node = node.dirs.entry(p.to_string()).or_default();
        }
        node.files.insert(
            name.to_string(),
            re::FileNode {
                name: name.to_string(),
                digest: Some(re::Digest { hash: i.digest.clone(), size_bytes: i.size as i64 }),
                is_executable: i.executable,
                ..Default::default()
            },
        );
    }
    fn encode(node: &Node, digests: DigestFunction, out: &mut Vec<(re::Digest, Vec<u8>)>) -> re::Digest {
        let mut directory = re::Directory { files: node.files.values().cloned().collect(), ..Default::default() };
        for (name, child) in &node.dirs {
            let digest = encode(child, digests, out);
            directory.directories.push(re::DirectoryNode { name: name.clone(), digest: Some(digest) });
        }
        let bytes = directory.encode_to_vec();
        let digest = digests.digest(&bytes);
        out.push((digest.clone(), bytes));
        digest
    }
    let mut out = Vec::new();
    let digest = encode(&root, digests, &mut out);
    (digest, out)
}

/// The REAPI Tree of output directory `dir` holding `files`.
fn build_tree(
    dir: &str,
    files: &[&OutputFile],
    file_digest: impl Fn(&OutputFile) -> Result<re::Digest>,
    digests: DigestFunction,
) -> Result<re::Tree> {
    #[derive(Default)]
    struct Node {
        files: BTreeMap<String, re::FileNode>,
        dirs: BTreeMap<String, Node>,
    }
    let mut root = Node::default();
    for f in files {
        let rel = f.path.strip_prefix(&format!("{dir}/")).expect("a file of the directory");
        let mut parts: Vec<&str> = rel.split('/').collect();
        let name = parts.pop().expect("a file name");
        let mut node = &mut root;
        for p in parts {
            node = node.dirs.entry(p.to_string()).or_default();
        }
        let digest = file_digest(f)?;
        node.files.insert(
            name.to_string(),
            re::FileNode {
                name: name.to_string(),
                digest: Some(digest),
                is_executable: f.executable,
                ..Default::default()
            },
        );
    }
    fn encode(node: &Node, digests: DigestFunction, children: &mut Vec<re::Directory>) -> re::Directory {
        let mut directory = re::Directory { files: node.files.values().cloned().collect(), ..Default::default() };
        for (name, child) in &node.dirs {
            let encoded = encode(child, digests, children);
            directory
                .directories
                .push(re::DirectoryNode { name: name.clone(), digest: Some(digests.digest(&encoded.encode_to_vec())) });
            children.push(encoded);
        }
        directory
    }
    let mut children = Vec::new();
    let root = encode(&root, digests, &mut children);
    Ok(re::Tree { root: Some(root), children })
}

/// The files of a Tree, with paths below `dir`.
fn tree_files(dir: &str, tree: &re::Tree, digests: DigestFunction) -> Result<Vec<RemoteFile>> {
    let by_digest: BTreeMap<String, &re::Directory> =
        tree.children.iter().map(|c| (digests.hash(&c.encode_to_vec()), c)).collect();
    let mut out = Vec::new();
    fn walk(
        prefix: &str,
        d: &re::Directory,
        by_digest: &BTreeMap<String, &re::Directory>,
        out: &mut Vec<RemoteFile>,
    ) -> Result<()> {
        for f in &d.files {
            let digest = f.digest.clone().ok_or_else(|| anyhow!("tree file {} has no digest", f.name))?;
            out.push((format!("{prefix}/{}", f.name), digest, f.is_executable));
        }
        for sub in &d.directories {
            let hash = sub.digest.as_ref().map(|x| x.hash.clone()).unwrap_or_default();
            let child = by_digest.get(&hash).ok_or_else(|| anyhow!("tree directory {} is missing", sub.name))?;
            walk(&format!("{prefix}/{}", sub.name), child, by_digest, out)?;
        }
        Ok(())
    }
    let root = tree.root.as_ref().ok_or_else(|| anyhow!("a tree without a root"))?;
    walk(dir, root, &by_digest, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_lists_the_files_it_was_built_from() {
        let dir = std::env::temp_dir().join(format!("remote-tree-{}", std::process::id()));
        let cache = Cache::open(dir.clone()).unwrap();
        let a = cache.store_bytes(b"a", false).unwrap();
        let b = cache.store_bytes(b"bb", true).unwrap();
        let files = [
            OutputFile { path: "out/d/x/a.o".into(), digest: a.clone(), executable: false },
            OutputFile { path: "out/d/b".into(), digest: b.clone(), executable: true },
        ];
        let refs: Vec<&OutputFile> = files.iter().collect();
        let b3 = DigestFunction::Blake3;
        let file_digest = |f: &OutputFile| {
            let size = fs_err::metadata(cache.blob_path(&f.digest, f.executable))?.len();
            Ok(re::Digest { hash: f.digest.clone(), size_bytes: size as i64 })
        };
        let tree = build_tree("out/d", &refs, file_digest, b3).unwrap();
        let mut listed = tree_files("out/d", &tree, b3).unwrap();
        listed.sort_by(|x, y| x.0.cmp(&y.0));
        assert_eq!(
            listed,
            vec![
                ("out/d/b".to_string(), re::Digest { hash: b, size_bytes: 2 }, true),
                ("out/d/x/a.o".to_string(), re::Digest { hash: a, size_bytes: 1 }, false),
            ]
        );
        let _ = fs_err::remove_dir_all(dir);
    }

    #[test]
    fn the_remote_action_is_a_function_of_the_key() {
        let none = re::Platform::default();
        let b3 = DigestFunction::Blake3;
        assert_eq!(remote_action("k1", &none, b3).0, remote_action("k1", &none, b3).0);
        assert_ne!(remote_action("k1", &none, b3).0, remote_action("k2", &none, b3).0);
        let linux = re::Platform {
            properties: vec![re::platform::Property { name: "OSFamily".into(), value: "Linux".into() }],
        };
        assert_ne!(remote_action("k1", &none, b3).0, remote_action("k1", &linux, b3).0);
    }

    #[test]
    fn a_blob_two_actions_miss_is_uploaded_once_and_the_other_waits_for_it() {
        let ledger = std::sync::Arc::new(UploadLedger::default());
        let d = |h: &str| re::Digest { hash: h.into(), size_bytes: 1 };
        let (mine, theirs) = ledger.claim(vec![d("a"), d("b")]);
        assert_eq!(mine.len(), 2);
        assert!(theirs.is_empty());
        let (second, waits) = ledger.claim(vec![d("a"), d("c")]);
        assert_eq!(second.iter().map(|d| d.hash.as_str()).collect::<Vec<_>>(), ["c"]);
        assert_eq!(waits, ["a"]);
        let waiter = {
            let ledger = ledger.clone();
            std::thread::spawn(move || ledger.wait_for(&waits))
        };
        ledger.finish(&mine, true);
        waiter.join().unwrap().unwrap();
        assert!(ledger.is_present("a") && ledger.is_present("b") && !ledger.is_present("c"));
        // A failed upload is not present: whoever waited for it hears so, the next caller retries.
        ledger.finish(&second, false);
        let (retry, _) = ledger.claim(vec![d("c")]);
        assert_eq!(retry.len(), 1);
        let (_, waits) = ledger.claim(vec![d("c")]);
        ledger.finish(&retry, false);
        assert!(ledger.wait_for(&waits).unwrap_err().to_string().contains("by another action failed"));
    }

    #[test]
    fn sha256_digests_and_resource_names_follow_the_api() {
        let sha = DigestFunction::Sha256;
        assert_eq!(sha.hash(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(sha.resource_segment(), "", "SHA256 resource names carry no function");
        assert_eq!(DigestFunction::Blake3.resource_segment(), "blake3/");
        assert_eq!(DigestFunction::Blake3.hash(b"abc"), digest_bytes(b"abc"));
        assert_eq!(DigestFunction::parse("SHA256").unwrap(), sha);
        assert!(DigestFunction::parse("md5").is_err());
        // The remote action's digests change with the function, so entries never mix.
        let none = re::Platform::default();
        assert_ne!(remote_action("k", &none, sha).0.hash, remote_action("k", &none, DigestFunction::Blake3).0.hash);
    }
}
