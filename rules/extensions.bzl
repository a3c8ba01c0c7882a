"""Bzlmod: `relink = use_extension("@rules_relink//rules:extensions.bzl", "relink")`.

The extension creates `@relink_toolchain` (the local rustc and relink-builder) and
rules_relink's MODULE.bazel registers its toolchain; a root module needs
`use_repo(relink, "relink_toolchain")` only to name the repository itself.
"""

load("//rules:repositories.bzl", "relink_toolchain_repo")

def _relink_impl(module_ctx):
    builder = ""
    for mod in module_ctx.modules:
        for tag in mod.tags.toolchain:
            builder = tag.builder or builder
    relink_toolchain_repo(name = "relink_toolchain", builder = builder)

relink = module_extension(
    implementation = _relink_impl,
    tag_classes = {
        "toolchain": tag_class(attrs = {"builder": attr.string(doc = "Path of a prebuilt relink-builder.")}),
    },
)
