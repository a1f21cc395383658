# dg_library(NAME SOURCES ... DEPS ...)  -> static library dg_<NAME>
# dg_test(NAME SOURCES ... DEPS ...)     -> gtest binary <NAME>, registered with ctest
function(dg_library name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  add_library(dg_${name} STATIC ${A_SOURCES})
  target_include_directories(dg_${name} PUBLIC ${CMAKE_SOURCE_DIR}/include ${CMAKE_SOURCE_DIR}/src)
  target_link_libraries(dg_${name} PUBLIC ${A_DEPS})
  set_property(GLOBAL APPEND PROPERTY DG_ALL_LIBS dg_${name})
endfunction()

function(dg_test name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${A_SOURCES})
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/include ${CMAKE_SOURCE_DIR}/src)
  target_link_libraries(${name} PRIVATE ${A_DEPS} GTest::gtest GTest::gtest_main)
  add_test(NAME ${name} COMMAND ${name})
  add_dependencies(dg_unit_tests ${name})
  set_tests_properties(${name} PROPERTIES LABELS unit
    ENVIRONMENT "DG_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
endfunction()
