# Helpers shared by the project's CMake files.
#
# sparse_attn_add_library(name SRCS... [DEPENDS tablegen targets] [LINK libs])
# builds a static, position-independent library of this project, installed
# and exported as SparseAttn::<name>. Every MLIR/LLVM symbol comes from the
# shared libMLIR.so / libLLVM.so that Debian ships (targets MLIR and LLVM),
# so that linking a tool takes seconds rather than minutes on a small machine.
function(sparse_attn_add_library name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPENDS;LINK" ${ARGN})
  add_library(${name} STATIC ${ARG_SRCS})
  set_target_properties(${name} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  if(ARG_DEPENDS)
    add_dependencies(${name} ${ARG_DEPENDS})
  endif()
  target_include_directories(${name} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
    $<BUILD_INTERFACE:${PROJECT_BINARY_DIR}/include>
    $<INSTALL_INTERFACE:include>)
  target_link_libraries(${name} PUBLIC ${ARG_LINK} MLIR LLVM)
  install(TARGETS ${name} EXPORT SparseAttnTargets
          ARCHIVE DESTINATION lib LIBRARY DESTINATION lib)
endfunction()

function(sparse_attn_add_tool name)
  cmake_parse_arguments(ARG "" "" "SRCS;LINK" ${ARGN})
  add_executable(${name} ${ARG_SRCS})
  target_link_libraries(${name} PRIVATE ${ARG_LINK} MLIR LLVM)
  llvm_update_compile_flags(${name})
  install(TARGETS ${name} RUNTIME DESTINATION bin)
endfunction()
