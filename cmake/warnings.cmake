# Every pktd target gets the same warnings; CI turns them into errors.
add_library(pktd_warnings INTERFACE)
target_compile_options(pktd_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wcast-align -Wconversion -Wsign-conversion
  -Wnull-dereference -Wformat=2 -Wimplicit-fallthrough
  $<$<COMPILE_LANGUAGE:CXX>:-Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual>)
if(PKTD_WERROR)
  target_compile_options(pktd_warnings INTERFACE -Werror)
endif()
