//! Remote execution: the REAPI action and input tree of an action, running it on the
//! server's workers, and reading the output directories it returns.

use super::*;

impl RemoteCache {
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

    pub(super) fn platform(&self) -> &re::Platform {
        &self.platform
    }

    /// Execute and follow the operation until it is done; a worker must take it within
    /// `queue_timeout` (NativeLink queues an action no worker matches forever and says nothing).
    pub(super) fn wait_for_execution(
        &self,
        action_digest: &re::Digest,
        timeout: Duration,
    ) -> Result<re::ExecuteResponse> {
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
}

/// The REAPI action standing for relink action key `key`: (action digest, Action bytes,
/// Command bytes).
pub(super) fn remote_action(
    key: &str,
    platform: &re::Platform,
    digests: DigestFunction,
) -> (re::Digest, Vec<u8>, Vec<u8>) {
    let command = re::Command {
        arguments: vec!["relink-action".to_string(), crate::key::KEY_VERSION.to_string(), key.to_string()],
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
pub(super) fn input_tree(inputs: &[RemoteInput], digests: DigestFunction) -> (re::Digest, Vec<(re::Digest, Vec<u8>)>) {
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
pub(super) fn build_tree(
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
pub(super) fn tree_files(dir: &str, tree: &re::Tree, digests: DigestFunction) -> Result<Vec<RemoteFile>> {
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
