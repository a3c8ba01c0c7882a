//! Moving blobs between the local store and the server: uploads (once per build, batched or
//! streamed), downloads checked against their digests, and the SHA256 twins of BLAKE3 blobs.

use super::*;

impl RemoteCache {
    /// The outputs of a remote result, in the local store (all of them: a remote execution's
    /// outputs feed actions that may run here).
    pub(super) fn materialize_result(&self, found: &re::ActionResult, cache: &Cache) -> Result<ActionResult> {
        let (files, dirs) = self.result_files(found)?;
        self.download(&files, |_| true, cache)?;
        Ok(local_result(self.localize(files)?, dirs))
    }

    /// The files of a remote result (its output files, and the files of its output
    /// directories' trees) and its output directories.
    pub(super) fn result_files(&self, found: &re::ActionResult) -> Result<(Vec<RemoteFile>, Vec<String>)> {
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
    pub(super) fn download(
        &self,
        files: &[RemoteFile],
        wanted: impl Fn(&re::Digest) -> bool,
        cache: &Cache,
    ) -> Result<()> {
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
    pub(super) fn known_local(&self, hash: &str) -> Option<String> {
        match self.digests {
            DigestFunction::Blake3 => Some(hash.to_string()),
            DigestFunction::Sha256 => self.pairs().local_of.get(hash).cloned(),
        }
    }

    /// Remote files with their local digests (each must have been downloaded).
    pub(super) fn localize(&self, files: Vec<RemoteFile>) -> Result<Vec<RemoteFile>> {
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
    pub(super) fn remote_hash(&self, cache: &Cache, local: &str, path: &std::path::Path) -> Result<String> {
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
    pub(super) fn file_digest(&self, cache: &Cache, f: &OutputFile) -> Result<re::Digest> {
        let path = cache.blob_path(&f.digest, f.executable);
        let size = fs_err::metadata(&path).with_context(|| format!("blob of {} is missing", f.path))?.len();
        Ok(re::Digest { hash: self.remote_hash(cache, &f.digest, &path)?, size_bytes: size as i64 })
    }

    pub(super) fn pairs(&self) -> std::sync::MutexGuard<'_, DigestPairs> {
        self.pairs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keep `remote` as the SHA256 of local blob `local` (best effort: a lost memo is hashed again).
    pub(super) fn remember_remote_hash(&self, cache: &Cache, local: &str, remote: &str) {
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

    /// Upload the blobs the server does not have: small ones in batches, large ones through
    /// ByteStream.
    /// Blobs another action is uploading at the same time are waited for, not sent twice.
    pub(super) fn write_missing(&self, blobs: Vec<Blob>) -> Result<()> {
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
    pub(super) fn send(&self, unique: &BTreeMap<String, Blob>, digests: &[re::Digest]) -> Result<()> {
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

    pub(super) fn write_batch(&self, requests: Vec<re::batch_update_blobs_request::Request>) -> Result<()> {
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

    pub(super) fn write_stream(&self, digest: &re::Digest, data: Vec<u8>) -> Result<()> {
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
    pub(super) fn read_blobs(&self, digests: &[re::Digest]) -> Result<Vec<Vec<u8>>> {
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
    pub(super) fn read_blob(&self, digest: &re::Digest) -> Result<Vec<u8>> {
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
}

/// A file of a remote result: execroot path, digest, executable.
pub(super) type RemoteFile = (String, re::Digest, bool);

/// Local (BLAKE3) and remote (SHA256) digests of the same blobs, both ways.
#[derive(Default)]
pub(super) struct DigestPairs {
    remote_of: std::collections::HashMap<String, String>,
    local_of: std::collections::HashMap<String, String>,
}

impl DigestPairs {
    pub(super) fn insert(&mut self, local: &str, remote: &str) {
        self.remote_of.insert(local.to_string(), remote.to_string());
        self.local_of.insert(remote.to_string(), local.to_string());
    }
}

/// What this build knows the server holds, and which uploads are under way (by BLAKE3 hash).
#[derive(Default)]
pub(super) struct UploadLedger {
    state: std::sync::Mutex<LedgerState>,
    done: std::sync::Condvar,
}

#[derive(Default)]
pub(super) struct LedgerState {
    present: HashSet<String>,
    uploading: HashSet<String>,
}

impl UploadLedger {
    pub(super) fn is_present(&self, hash: &str) -> bool {
        self.lock().present.contains(hash)
    }

    pub(super) fn mark_present(&self, hashes: impl Iterator<Item = String>) {
        self.lock().present.extend(hashes);
    }

    /// Split missing blobs into those this caller uploads and those another caller already is.
    pub(super) fn claim(&self, missing: Vec<re::Digest>) -> (Vec<re::Digest>, Vec<String>) {
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

    pub(super) fn finish(&self, digests: &[re::Digest], ok: bool) {
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
    pub(super) fn wait_for(&self, hashes: &[String]) -> Result<()> {
        let mut state = self.lock();
        while hashes.iter().any(|h| state.uploading.contains(h)) {
            state = self.done.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        match hashes.iter().find(|h| !state.present.contains(*h)) {
            Some(h) => bail!("the upload of blob {h} by another action failed"),
            None => Ok(()),
        }
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, LedgerState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A remote result's files as a local result (sorted by path, as a local run lists them).
pub(super) fn local_result(files: Vec<RemoteFile>, dirs: Vec<String>) -> ActionResult {
    let mut out: Vec<OutputFile> =
        files.into_iter().map(|(path, d, executable)| OutputFile { path, digest: d.hash, executable }).collect();
    out.sort_by(|x, y| x.path.cmp(&y.path));
    ActionResult { files: out, dirs }
}

/// A blob a remote result names that the server does not have.
#[derive(Debug)]
pub(super) struct MissingBlob(String);

impl std::fmt::Display for MissingBlob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the remote cache does not have blob {}", self.0)
    }
}

impl std::error::Error for MissingBlob {}

/// A blob to upload: bytes at hand, or a file of the local store.
pub(super) enum Blob {
    Bytes(re::Digest, Vec<u8>),
    File(re::Digest, std::path::PathBuf),
}

impl Blob {
    pub(super) fn digest(&self) -> &re::Digest {
        match self {
            Blob::Bytes(d, _) | Blob::File(d, _) => d,
        }
    }

    pub(super) fn data(&self) -> Result<Vec<u8>> {
        match self {
            Blob::Bytes(_, b) => Ok(b.clone()),
            Blob::File(_, p) => fs_err::read(p).with_context(|| format!("cannot read {}", p.display())),
        }
    }
}

/// Where the SHA256 of local blob `local` is remembered.
pub(super) fn sha256_memo(cache: &Cache, local: &str) -> std::path::PathBuf {
    cache.root.join("remote-sha256").join(&local[..2.min(local.len())]).join(local)
}
