"""Which artifact of a dependency each action kind consumes: the table itself.

Plain data, loaded by the Bazel rules (artifacts.bzl, which explains each kind) and by the
Buck2 cell (rules/buck2/rules.bzl), so that both executors wire the same artifacts.
"""

DEPENDENCY_ARTIFACT = {
    "RustStub": "macros",
    "RustMacros": "macros",
    "RustInterface": "interface",
    "RustCompile": "interface",
    "RustCompileNoLink": "interface",
    "RustCompileNoLinkLto": "rlib_and_proc_macros",
    "RustLink": "rlib",
    "RustDocTest": "interface_and_rlib",
}
