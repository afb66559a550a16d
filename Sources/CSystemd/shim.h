// libsystemd for Swift: sd-bus, sd-daemon and sd-journal.
//
// Swift cannot call C variadic functions (sd_bus_call_method, sd_bus_message_append,
// sd_bus_message_read, sd_journal_print ...). The Swift side builds messages with
// sd_bus_message_append_basic / open_container and reads them with read_basic /
// enter_container. The few fixed-argument helpers below cover what does not import well.
#ifndef CSYSTEMD_SHIM_H
#define CSYSTEMD_SHIM_H

#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
#include <sys/uio.h>
#include <string.h>

/// SD_BUS_ERROR_NULL does not import into Swift.
static inline sd_bus_error csd_bus_error_null(void) {
    sd_bus_error e = SD_BUS_ERROR_NULL;
    return e;
}

/// Appends one string-like basic value ('s', 'o' or 'g').
static inline int csd_bus_message_append_string(sd_bus_message *m, char type, const char *s) {
    return sd_bus_message_append_basic(m, type, s);
}

/// Appends a boolean ('b'), which D-Bus carries as a 32-bit int.
static inline int csd_bus_message_append_bool(sd_bus_message *m, int value) {
    int v = value ? 1 : 0;
    return sd_bus_message_append_basic(m, 'b', &v);
}

/// Appends a 32-bit signed int ('i').
static inline int csd_bus_message_append_int32(sd_bus_message *m, int32_t value) {
    return sd_bus_message_append_basic(m, 'i', &value);
}

/// Appends a 32-bit unsigned int ('u').
static inline int csd_bus_message_append_uint32(sd_bus_message *m, uint32_t value) {
    return sd_bus_message_append_basic(m, 'u', &value);
}

/// Reads one string-like basic value ('s', 'o', 'g'); *out points into the message.
static inline int csd_bus_message_read_string(sd_bus_message *m, char type, const char **out) {
    return sd_bus_message_read_basic(m, type, out);
}

/// Reads a uint32 ('u').
static inline int csd_bus_message_read_uint32(sd_bus_message *m, uint32_t *out) {
    return sd_bus_message_read_basic(m, 'u', out);
}

/// Reads an int32 ('i').
static inline int csd_bus_message_read_int32(sd_bus_message *m, int32_t *out) {
    return sd_bus_message_read_basic(m, 'i', out);
}

/// Reads a uint64 ('t').
static inline int csd_bus_message_read_uint64(sd_bus_message *m, uint64_t *out) {
    return sd_bus_message_read_basic(m, 't', out);
}

/// Reads a boolean ('b').
static inline int csd_bus_message_read_bool(sd_bus_message *m, int *out) {
    return sd_bus_message_read_basic(m, 'b', out);
}

#include <sys/eventfd.h>
#include <poll.h>
#include <time.h>

/// A non-blocking, close-on-exec eventfd used to wake a thread blocked in poll().
static inline int csd_eventfd(void) {
    return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

/// CLOCK_MONOTONIC in microseconds, the clock sd_bus_get_timeout() answers in.
static inline uint64_t csd_now_monotonic_usec(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000ULL;
}

/// The error name of an sd_bus_error, or NULL (field access helper).
static inline const char *csd_bus_error_name(const sd_bus_error *e) {
    return e ? e->name : NULL;
}

/// The error message of an sd_bus_error, or NULL.
static inline const char *csd_bus_error_message(const sd_bus_error *e) {
    return e ? e->message : NULL;
}

#endif
