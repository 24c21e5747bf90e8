import os
import lit.formats

config.name = "llmc"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.llm_tools_dir, "test", "lit")
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py.in"]

tools = [
    os.path.join(config.llm_tools_dir, "compiler"),
    os.path.join(config.llm_tools_dir, "tools", "llm-opt"),
    os.path.join(config.llm_tools_dir, "runtime"),
    config.llvm_tools_dir or "/usr/lib/llvm-19/bin",
    "/usr/lib/llvm-19/bin",
]
config.environment["PATH"] = os.pathsep.join(tools + [config.environment.get("PATH", os.environ.get("PATH", ""))])
config.substitutions.append(("%fixtures", os.path.join(config.llm_src_root, "test", "fixtures")))
