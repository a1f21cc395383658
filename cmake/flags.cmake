# The one list of compiler flags for the project.
add_compile_options(-Wall -Wextra -Werror -Wno-error=deprecated-declarations)
# Boost.Asio/Beast trip these in GCC 12 with optimisation on; they are not ours.
add_compile_options(-Wno-maybe-uninitialized -Wno-array-bounds -Wno-stringop-overflow)

set(DG_SANITIZE "" CACHE STRING "Sanitizers to build with, e.g. address,undefined")
if(DG_SANITIZE)
  add_compile_options(-fsanitize=${DG_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${DG_SANITIZE})
endif()

find_program(CCACHE ccache)
if(CCACHE)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${CCACHE})
endif()
