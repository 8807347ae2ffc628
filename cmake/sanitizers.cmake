# PKTD_SANITIZE applies to every target in the tree, including tests and drivers.
if(PKTD_SANITIZE)
  add_compile_options(-fsanitize=${PKTD_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${PKTD_SANITIZE})
  add_compile_definitions(PKTD_SANITIZER_BUILD=1)
endif()
