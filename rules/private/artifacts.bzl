"""The one table that says which artifact of a dependency each action kind consumes.

`none`: nothing of dependencies.
`macros`: the macro summaries of direct dependencies (what their exported macros expand to).
`interface`: the hollow interface rlib (or a proc macro's shared object).
`rlib`: the real rlib with object code.
`rlib_and_proc_macros`: real rlibs, and the shared objects of proc macros.
`interface_and_rlib`: both: a compile against interfaces and a link with the real rlibs in
one action (`RustDocTest`: rustdoc compiles and links each doctest, see relink-builder's
`doctest` verb).

Only `RustLink` (and `RustDocTest`, which links too) may consume real rlibs: that is what makes an edit that keeps a crate's
interface byte-identical relink its dependents instead of rebuilding them. The one exception
is a binary whose Cargo profile asks for cross-crate LTO (`RustCompileNoLinkLto`): LTO
optimises over every crate's code, so its compile reads the real rlibs, and under such a
profile no crate is stubbed (interfaces are the real metadata, so the crate hashes that real
rlibs record match).
"""

load("//rules/private:artifact_table.bzl", _DEPENDENCY_ARTIFACT = "DEPENDENCY_ARTIFACT")

DEPENDENCY_ARTIFACT = _DEPENDENCY_ARTIFACT

def dependency_files(mnemonic, dep_infos):
    """Files of the dependencies that an action of kind `mnemonic` consumes.

    Args:
      mnemonic: an action kind, a key of DEPENDENCY_ARTIFACT.
      dep_infos: RustInfo of the direct dependencies.

    Returns:
      a depset of files.
    """
    kind = DEPENDENCY_ARTIFACT[mnemonic]
    if kind == "none":
        return depset()
    if kind == "macros":
        return depset([d.macros for d in dep_infos if d.macros])
    if kind == "interface":
        return depset(transitive = [d.transitive_interfaces for d in dep_infos])
    if kind == "interface_and_rlib":
        return depset(transitive = [d.transitive_interfaces for d in dep_infos] + [d.transitive_rlibs for d in dep_infos])
    rlibs = depset(transitive = [d.transitive_rlibs for d in dep_infos])
    if kind == "rlib":
        return rlibs
    interfaces = depset(transitive = [d.transitive_interfaces for d in dep_infos]).to_list()
    return depset([f for f in interfaces if f.extension == "so"], transitive = [rlibs])
