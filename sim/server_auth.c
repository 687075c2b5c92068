/* server_auth.c: ZAP handler admitting only listed CURVE client keys (ZeroMQ RFC 27). */
#include "server_internal.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

#include "o2o_wire.h"

#define MAX_KEYS 256

struct o2o_server_auth {
  void *sock; /* REP bound to inproc://zeromq.zap.01, used only by the thread */
  pthread_t thread;
  atomic_int stop;
  int quiet;
  int num_keys;
  uint8_t keys[MAX_KEYS][32];
};

static int add_key_file(o2o_server_auth *a, const char *path, char *err, size_t errlen) {
  char pub[41];
  if (o2o_wire_read_key_file(path, pub, NULL, err, errlen)) return -1;
  if (a->num_keys == MAX_KEYS) {
    o2o_bridge_errf(err, errlen, "%s: more than %d client keys", path, MAX_KEYS);
    return -1;
  }
  zmq_z85_decode(a->keys[a->num_keys++], pub);
  return 0;
}

static int load_keys(o2o_server_auth *a, const char *keys, char *err, size_t errlen) {
  struct stat st;
  if (stat(keys, &st) != 0) {
    o2o_bridge_errf(err, errlen, "%s: %s", keys, strerror(errno));
    return -1;
  }
  if (!S_ISDIR(st.st_mode)) return add_key_file(a, keys, err, errlen);
  DIR *d = opendir(keys);
  if (!d) {
    o2o_bridge_errf(err, errlen, "%s: %s", keys, strerror(errno));
    return -1;
  }
  struct dirent *e;
  int rc = 0;
  while ((e = readdir(d))) {
    size_t len = strlen(e->d_name);
    if (len < 5 || strcmp(e->d_name + len - 4, ".pub") != 0) continue;
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", keys, e->d_name);
    if ((rc = add_key_file(a, path, err, errlen))) break;
  }
  closedir(d);
  if (!rc && a->num_keys == 0) {
    o2o_bridge_errf(err, errlen, "%s: no client .pub files in this directory", keys);
    rc = -1;
  }
  return rc;
}

static void *zap_thread(void *arg) {
  o2o_server_auth *a = arg;
  zmq_msg_t part[8];
  while (!atomic_load(&a->stop)) {
    zmq_pollitem_t it = {a->sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, 100) <= 0) continue;
    int n = 0, more = 1;
    while (more) {
      zmq_msg_t m;
      zmq_msg_init(&m);
      if (zmq_msg_recv(&m, a->sock, 0) < 0) {
        zmq_msg_close(&m);
        break;
      }
      more = zmq_msg_more(&m);
      if (n < 8)
        part[n++] = m;
      else
        zmq_msg_close(&m);
    }
    /* version, request id, domain, address, identity, mechanism, credentials... */
    int ok = 0;
    if (n >= 7 && zmq_msg_size(&part[5]) == 5 && memcmp(zmq_msg_data(&part[5]), "CURVE", 5) == 0 &&
        zmq_msg_size(&part[6]) == 32) {
      for (int k = 0; k < a->num_keys && !ok; k++)
        ok = memcmp(a->keys[k], zmq_msg_data(&part[6]), 32) == 0;
    }
    if (!ok && !a->quiet) {
      char addr[64] = "?";
      if (n >= 4)
        snprintf(addr, sizeof addr, "%.*s", (int)zmq_msg_size(&part[3]),
                 (const char *)zmq_msg_data(&part[3]));
      fprintf(stderr,
              "o2o-sim: refused a client from %s: its CURVE key is not in the allowed "
              "list\n",
              addr);
    }
    zmq_send(a->sock, "1.0", 3, ZMQ_SNDMORE);
    if (n >= 2)
      zmq_send(a->sock, zmq_msg_data(&part[1]), zmq_msg_size(&part[1]), ZMQ_SNDMORE);
    else
      zmq_send(a->sock, "", 0, ZMQ_SNDMORE);
    zmq_send(a->sock, ok ? "200" : "400", 3, ZMQ_SNDMORE);
    const char *text = ok ? "OK" : "client key not allowed";
    zmq_send(a->sock, text, strlen(text), ZMQ_SNDMORE);
    zmq_send(a->sock, "", 0, ZMQ_SNDMORE); /* user id */
    zmq_send(a->sock, "", 0, 0);           /* metadata */
    for (int i = 0; i < n; i++)
      zmq_msg_close(&part[i]);
  }
  zmq_close(a->sock);
  return NULL;
}

o2o_server_auth *o2o_server_auth_start(void *ctx, const char *keys, int quiet, char *err,
                                       size_t errlen) {
  o2o_server_auth *a = calloc(1, sizeof *a);
  if (!a) {
    o2o_bridge_errf(err, errlen, "out of memory");
    return NULL;
  }
  a->quiet = quiet;
  if (load_keys(a, keys, err, errlen)) {
    free(a);
    return NULL;
  }
  a->sock = zmq_socket(ctx, ZMQ_REP);
  int zero = 0;
  if (!a->sock || zmq_setsockopt(a->sock, ZMQ_LINGER, &zero, sizeof zero) ||
      zmq_bind(a->sock, "inproc://zeromq.zap.01") != 0) {
    o2o_bridge_errf(err, errlen, "ZAP handler: %s", zmq_strerror(errno));
    if (a->sock) zmq_close(a->sock);
    free(a);
    return NULL;
  }
  if (pthread_create(&a->thread, NULL, zap_thread, a) != 0) {
    o2o_bridge_errf(err, errlen, "ZAP handler: cannot start thread");
    zmq_close(a->sock);
    free(a);
    return NULL;
  }
  return a;
}

void o2o_server_auth_stop(o2o_server_auth *a) {
  if (!a) return;
  atomic_store(&a->stop, 1);
  pthread_join(a->thread, NULL);
  free(a);
}
