# cli/cli.cmake — the `duro` command-line client (cli.c) and its load
# generator (`duro bench`, bench.c), built as one executable `duro` next to
# durod in the build directory. Included from examples/CMakeLists.txt (the
# library's client/CMakeLists.txt does not include it). Links libduro's static
# library, whichever name client/CMakeLists.txt gives it; cli/ uses only the
# public API (include/duro/).
set(DURO_CLI_LIB "")
foreach(candidate duro_static duro-static libduro_static duro_client duro)
  if(TARGET ${candidate})
    get_target_property(_duro_type ${candidate} TYPE)
    if(_duro_type STREQUAL "STATIC_LIBRARY" OR _duro_type STREQUAL "SHARED_LIBRARY")
      set(DURO_CLI_LIB ${candidate})
      break()
    endif()
  endif()
endforeach()

if(DURO_CLI_LIB)
  add_executable(duro_cli ${CMAKE_SOURCE_DIR}/cli/cli.c ${CMAKE_SOURCE_DIR}/cli/bench.c)
  set_target_properties(duro_cli PROPERTIES
    OUTPUT_NAME duro
    RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})
  target_compile_options(duro_cli PRIVATE ${DURO_WARNINGS})
  target_include_directories(duro_cli PRIVATE ${CMAKE_SOURCE_DIR}/include)
  target_link_libraries(duro_cli PRIVATE ${DURO_CLI_LIB} PkgConfig::JANSSON Threads::Threads m)
  # the interactive prompt (duro with no command on a terminal): libedit, BSD
  # licensed (not GNU readline); without it the CLI builds without a prompt
  pkg_check_modules(LIBEDIT QUIET IMPORTED_TARGET libedit)
  if(LIBEDIT_FOUND)
    target_compile_definitions(duro_cli PRIVATE DURO_HAVE_LIBEDIT)
    target_link_libraries(duro_cli PRIVATE PkgConfig::LIBEDIT)
  else()
    message(STATUS "duro CLI: libedit not found (apt install libedit-dev): no interactive prompt")
  endif()
  include(GNUInstallDirs)
  install(TARGETS duro_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
else()
  message(STATUS "duro CLI: no libduro target (duro_static, duro) yet; not built")
endif()
