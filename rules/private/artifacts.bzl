"""The one table that says which artifact of a dependency each action kind consumes.

`none`: nothing of dependencies.
`macros`: the macro summaries of direct dependencies (what their exported macros expand to).
`interface`: the hollow interface rlib (or a proc macro's shared object).
`rlib`: the real rlib with object code.

Only `RustLink` may consume real rlibs: that is what makes an edit that keeps a crate's
interface byte-identical relink its dependents instead of rebuilding them.
"""

DEPENDENCY_ARTIFACT = {
    "RustStub": "macros",
    "RustMacros": "macros",
    "RustInterface": "interface",
    "RustCompile": "interface",
    "RustCompileNoLink": "interface",
    "RustLink": "rlib",
}

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
    return depset(transitive = [d.transitive_rlibs for d in dep_infos])
