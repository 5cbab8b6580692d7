# Streams (P1/P2 against kubectl): bench/streams/.
if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/streams/CMakeLists.txt AND NOT stream IN_LIST NOCALHOST_EXCLUDE)
  add_subdirectory(${CMAKE_CURRENT_LIST_DIR}/streams ${CMAKE_CURRENT_BINARY_DIR}/streams)
endif()
