/* Statistics export: JSON snapshots to Prometheus text, and a loopback HTTP
 * endpoint serving both. Internal to vmrt (the runtime object uses them). */
#ifndef VMRT_RUNTIME_EXPORT_H
#define VMRT_RUNTIME_EXPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>

/* Writes snapshot (a JSON object) in the Prometheus text exposition format.
 * Numbers and booleans become samples named vmrt_<path>_<key>; nested objects
 * extend the path; an array of objects becomes one labelled series per
 * element, labelled by the element's "id" (or its index) under the label
 * name given by the array's key less a trailing 's' ("vcpus" -> vcpu="0").
 * Strings and null are skipped. Keys ending in _total are typed counter,
 * the rest gauge. Returns 0 or -errno. */
int vmrt__export_prometheus(json_t *snapshot, FILE *out);

typedef struct vmrt__metrics_server vmrt__metrics_server_t;

/* Produces the current snapshot (a new reference) for the HTTP endpoint. */
typedef json_t *(*vmrt__snapshot_fn)(void *arg);

/* Starts a server thread on `where` ("127.0.0.1:PORT", "[::1]:PORT"; PORT 0
 * picks a free one). Only loopback addresses are accepted: -EADDRNOTAVAIL
 * otherwise, -EINVAL when malformed. GET /metrics answers Prometheus text,
 * GET /stats the JSON snapshot, anything else 404. */
int vmrt__metrics_start(vmrt__metrics_server_t **out, const char *where, vmrt__snapshot_fn fn,
                        void *arg);
/* The bound port (useful with PORT 0). */
int vmrt__metrics_port(const vmrt__metrics_server_t *srv);
/* Stops the thread, closes the socket, frees srv. */
void vmrt__metrics_stop(vmrt__metrics_server_t *srv);

/* Parses "HOST:PORT" / "[V6]:PORT" for a loopback host. Exposed for tests. */
int vmrt__parse_listen(const char *where, struct sockaddr_storage *ss, unsigned *len);

#endif
