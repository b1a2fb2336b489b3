# -*- Python -*-
# Runs the GoogleTest unit tests (build/unittests/*Tests) as a lit suite.
import os
import lit.formats

config.name = "SPARSE_ATTN-Unit"
config.suffixes = []
config.test_exec_root = os.path.join(config.sparse_attn_obj_root, "unittests")
config.test_source_root = config.test_exec_root
config.test_format = lit.formats.GoogleTest(".", "Tests")
