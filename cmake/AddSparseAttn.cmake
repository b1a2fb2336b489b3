# Helpers shared by the project's CMake files.
#
# sparse_attn_add_library(name SRCS... [DEPENDS tablegen targets] [LINK libs])
# builds a static library of this project. Every MLIR/LLVM symbol comes from
# the shared libMLIR.so / libLLVM.so that Debian ships, so that linking a tool
# takes seconds rather than minutes on a small machine.
function(sparse_attn_add_library name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPENDS;LINK" ${ARGN})
  add_library(${name} STATIC ${ARG_SRCS})
  set_target_properties(${name} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  if(ARG_DEPENDS)
    add_dependencies(${name} ${ARG_DEPENDS})
  endif()
  target_link_libraries(${name} PUBLIC ${ARG_LINK} MLIR LLVM)
endfunction()

function(sparse_attn_add_tool name)
  cmake_parse_arguments(ARG "" "" "SRCS;LINK" ${ARGN})
  add_executable(${name} ${ARG_SRCS})
  target_link_libraries(${name} PRIVATE ${ARG_LINK} MLIR LLVM)
  llvm_update_compile_flags(${name})
endfunction()
