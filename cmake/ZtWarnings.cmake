# Warnings, hardening and sanitizers for every zentalk target (zt_target()).
set(ZT_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wstrict-prototypes
  -Wmissing-prototypes -Wvla -Wformat=2 -Wundef -Wcast-qual -Wnull-dereference)
if(ZT_WERROR)
  list(APPEND ZT_WARNINGS -Werror)
endif()

set(ZT_HARDEN "")
if(CMAKE_BUILD_TYPE MATCHES "Rel")
  set(ZT_HARDEN -D_FORTIFY_SOURCE=2 -fstack-protector-strong)
endif()

set(ZT_SAN_FLAGS "")
if(ZT_SANITIZE)
  set(ZT_SAN_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  # libsodium/jansson are not instrumented; float-divide-by-zero is allowed in IEEE code.
endif()

# ThreadSanitizer (make tsan): data races and lock-order inversions in the
# threaded code; not together with ZT_SANITIZE (ASan and TSan exclude each
# other). tests/tsan.supp names the uninstrumented third-party libraries.
if(ZT_TSAN)
  if(ZT_SANITIZE)
    message(FATAL_ERROR "ZT_TSAN and ZT_SANITIZE cannot be combined")
  endif()
  set(ZT_SAN_FLAGS -fsanitize=thread -fno-omit-frame-pointer)
endif()

# Coverage instrumentation for every library so libFuzzer sees the code it
# fuzzes (the harnesses themselves add -fsanitize=fuzzer for the driver).
if(ZT_FUZZ)
  list(APPEND ZT_SAN_FLAGS -fsanitize=fuzzer-no-link)
endif()

function(zt_target tgt)
  target_compile_options(${tgt} PRIVATE ${ZT_WARNINGS} ${ZT_HARDEN} ${ZT_SAN_FLAGS})
  target_compile_definitions(${tgt} PRIVATE _POSIX_C_SOURCE=200809L _DEFAULT_SOURCE)
  target_include_directories(${tgt} PUBLIC ${CMAKE_SOURCE_DIR}/include ${CMAKE_BINARY_DIR}/generated)
  if(ZT_SAN_FLAGS)
    target_link_options(${tgt} PRIVATE ${ZT_SAN_FLAGS})
  endif()
endfunction()
