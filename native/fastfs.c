/*
 * mtrack's optional native fast path: a parallel directory walk that returns every entry's stat data in
 * one call. Node's lstatSync pays for a Stats object (and, on Node 20, four Date objects) per file and
 * walks one file at a time; `mtrack status` on 100,000 tracked files spends most of its time there.
 * This walks with fstatat() relative to directory descriptors, on a few threads, and hands back one
 * string of names and one Float64Array of numbers.
 *
 * Built by scripts/build-native.mjs with the system C compiler and Node's own headers (N-API, so one
 * build serves every Node version); when it cannot be built, src/util/native.ts reports it missing and
 * mtrack uses its JavaScript walk, which gives the same answers.
 *
 * scan(root: string, skip: string[], threads: number) ->
 *   { names: string,            // repo-relative posix paths below root, joined by "\0", sorted bytewise
 *     stats: Float64Array,      // FIELDS numbers per name: kind, size, mtimeMs, ctimeMs, ino, mode, nlink
 *     error?: { code, errno, syscall, path } }   // the first failure; names/stats are then empty
 * kind: 0 regular file, 1 symbolic link, 2 anything else (directories are descended, not listed).
 *
 * readFiles(paths: string[], sizes: Float64Array, threads: number) ->
 *   { data: Buffer,              // file i's bytes at offsets[i], up to sizes[i] + 1 of them (one more
 *                                //   than expected, so a file that grew is seen)
 *     offsets: Float64Array,     // where each file's bytes start in data
 *     meta: Float64Array }       // READ_FIELDS per file: bytes read, errno (0 = ok), and the fstat
 *                                //   after reading: size, mtimeMs, ctimeMs, ino
 * Reads many small files at once, on a few threads (adding 100k small files is mostly open/read/fstat/
 * close system calls). The caller compares the stat data with its listing and hashes the bytes.
 *
 * writeFiles(paths: string[], data: Buffer, offsets: Float64Array, lengths: Float64Array,
 *            modes: Uint32Array, threads: number) -> Float64Array
 *   Creates each file (O_CREAT | O_EXCL: never over an existing one) with the given permission bits
 *   (umask applies), writes its bytes, and returns WRITE_FIELDS numbers per file: errno (0 = ok), then
 *   the fstat after writing: size, mtimeMs, ctimeMs, ino. Parent directories must exist. Checking out
 *   100k small files is mostly open/write/close system calls; this spreads them over a few threads.
 *
 * tryLock(fd: number) -> number
 *   flock(fd, LOCK_EX | LOCK_NB): 0 when this open file now holds the lock, else the errno (EWOULDBLOCK
 *   while another holds it). Node has no flock; src/util/lock.ts holds `.mtrack/lock` this way, so the
 *   kernel releases it when its process dies, whatever the file says (kill -9, a container gone).
 * Entries named in `skip` are ignored at every level; a name ending in "/" only when it is a directory
 * (not entered: `.mtrackignore` names prune the walk). Names beyond MAX_SKIP of each kind are not
 * skipped: the caller filters them anyway, skipping is only a short cut. An entry that vanishes between readdir and stat is
 * skipped (as if it had been deleted a moment earlier).
 */
#define _GNU_SOURCE
#include <node_api.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIELDS 7
#define MAX_THREADS 8
#define MAX_SKIP 64

typedef struct entry {
  char *rel;
  size_t len;
  double f[FIELDS];
} entry_t;

typedef struct {
  entry_t *items;
  size_t n, cap;
} list_t;

typedef struct dirjob {
  struct dirjob *next;
  char *rel; /* "" for the root */
  size_t len;
} dirjob_t;

typedef struct {
  int rootfd;
  char *skip[MAX_SKIP];
  int nskip;
  char *skipdirs[MAX_SKIP]; /* names given with a trailing "/": skipped only when a directory */
  int nskipdirs;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  dirjob_t *queue;
  int active;
  int err;          /* errno of the first failure, 0 if none */
  const char *syscall;
  char *errpath;
  list_t lists[MAX_THREADS];
} walk_t;

static int oom(walk_t *w) {
  pthread_mutex_lock(&w->mu);
  if (!w->err) {
    w->err = ENOMEM;
    w->syscall = "malloc";
  }
  pthread_mutex_unlock(&w->mu);
  return -1;
}

static void fail(walk_t *w, int code, const char *syscall, const char *rel) {
  pthread_mutex_lock(&w->mu);
  if (!w->err) {
    w->err = code;
    w->syscall = syscall;
    w->errpath = strdup(rel);
  }
  pthread_cond_broadcast(&w->cv);
  pthread_mutex_unlock(&w->mu);
}

static int skipped(walk_t *w, const char *name) {
  if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0))) return 1;
  for (int i = 0; i < w->nskip; i++)
    if (strcmp(name, w->skip[i]) == 0) return 1;
  return 0;
}

static int skipped_dir(walk_t *w, const char *name) {
  for (int i = 0; i < w->nskipdirs; i++)
    if (strcmp(name, w->skipdirs[i]) == 0) return 1;
  return 0;
}

static char *join(const char *prefix, size_t plen, const char *name, size_t *outlen) {
  size_t nl = strlen(name);
  char *p = malloc(plen + nl + 2);
  if (!p) return NULL;
  size_t l = 0;
  if (plen) {
    memcpy(p, prefix, plen);
    l = plen;
    p[l++] = '/';
  }
  memcpy(p + l, name, nl);
  l += nl;
  p[l] = 0;
  *outlen = l;
  return p;
}

/* The `threads` argument, clamped to 1..MAX_THREADS. */
static int threads_arg(napi_env env, napi_value v) {
  int32_t threads = 1;
  napi_get_value_int32(env, v, &threads);
  if (threads < 1) threads = 1;
  if (threads > MAX_THREADS) threads = MAX_THREADS;
  return threads;
}

static double ms(const struct timespec *t) {
  /* The same arithmetic as Node's Stats (sec * 1e3 + nsec / 1e6), so both walks agree to the bit. */
  return (double)t->tv_sec * 1000.0 + (double)t->tv_nsec / 1e6;
}

/* Lists one directory: files into `out`, subdirectories onto the shared queue. */
static void visit(walk_t *w, dirjob_t *job, list_t *out) {
  int fd = job->len ? openat(w->rootfd, job->rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                    : dup(w->rootfd);
  if (fd < 0) {
    /* Replaced or removed since its parent was listed: nothing to list. */
    if (errno != ENOENT && errno != ENOTDIR && errno != ELOOP) fail(w, errno, "opendir", job->rel);
    return;
  }
  DIR *d = fdopendir(fd);
  if (!d) {
    fail(w, errno, "opendir", job->rel);
    close(fd);
    return;
  }
  int dfd = dirfd(d);
  for (;;) {
    errno = 0;
    struct dirent *e = readdir(d);
    if (!e) {
      if (errno) fail(w, errno, "scandir", job->rel);
      break;
    }
    if (skipped(w, e->d_name)) continue;
    struct stat s;
    if (fstatat(dfd, e->d_name, &s, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) continue;
      size_t l;
      char *rel = join(job->rel, job->len, e->d_name, &l);
      fail(w, errno, "lstat", rel ? rel : e->d_name);
      free(rel);
      break;
    }
    size_t len;
    char *rel = join(job->rel, job->len, e->d_name, &len);
    if (!rel) {
      oom(w);
      break;
    }
    if (S_ISDIR(s.st_mode)) {
      if (w->nskipdirs && skipped_dir(w, e->d_name)) {
        free(rel);
        continue;
      }
      dirjob_t *sub = malloc(sizeof *sub);
      if (!sub) {
        free(rel);
        oom(w);
        break;
      }
      sub->rel = rel;
      sub->len = len;
      pthread_mutex_lock(&w->mu);
      sub->next = w->queue;
      w->queue = sub;
      pthread_cond_signal(&w->cv);
      pthread_mutex_unlock(&w->mu);
      continue;
    }
    if (out->n == out->cap) {
      size_t cap = out->cap ? out->cap * 2 : 1024;
      entry_t *items = realloc(out->items, cap * sizeof *items);
      if (!items) {
        free(rel);
        oom(w);
        break;
      }
      out->items = items;
      out->cap = cap;
    }
    entry_t *o = &out->items[out->n++];
    o->rel = rel;
    o->len = len;
    o->f[0] = S_ISREG(s.st_mode) ? 0 : S_ISLNK(s.st_mode) ? 1 : 2;
    o->f[1] = (double)s.st_size;
    o->f[2] = ms(&s.st_mtim);
    o->f[3] = ms(&s.st_ctim);
    o->f[4] = (double)s.st_ino;
    o->f[5] = (double)s.st_mode;
    o->f[6] = (double)s.st_nlink;
  }
  closedir(d);
}

typedef struct {
  walk_t *w;
  int id;
} worker_arg_t;

static void *worker(void *p) {
  worker_arg_t *a = p;
  walk_t *w = a->w;
  list_t *out = &w->lists[a->id];
  for (;;) {
    pthread_mutex_lock(&w->mu);
    while (!w->queue && w->active > 0 && !w->err) pthread_cond_wait(&w->cv, &w->mu);
    if (!w->queue || w->err) {
      pthread_cond_broadcast(&w->cv);
      pthread_mutex_unlock(&w->mu);
      return NULL;
    }
    dirjob_t *job = w->queue;
    w->queue = job->next;
    w->active++;
    pthread_mutex_unlock(&w->mu);

    visit(w, job, out);
    free(job->rel);
    free(job);

    pthread_mutex_lock(&w->mu);
    w->active--;
    if (w->active == 0 && !w->queue) pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
  }
}

static int cmp_entry(const void *a, const void *b) {
  return strcmp(((const entry_t *)a)->rel, ((const entry_t *)b)->rel);
}

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

static napi_value scan(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3)
    return throw_type(env, "scan(root, skip, threads)");

  size_t rootlen;
  if (napi_get_value_string_utf8(env, argv[0], NULL, 0, &rootlen) != napi_ok)
    return throw_type(env, "root must be a string");
  char *root = malloc(rootlen + 1);
  if (!root) return throw_type(env, "out of memory");
  napi_get_value_string_utf8(env, argv[0], root, rootlen + 1, &rootlen);

  walk_t w;
  memset(&w, 0, sizeof w);
  pthread_mutex_init(&w.mu, NULL);
  pthread_cond_init(&w.cv, NULL);

  uint32_t nskip = 0;
  napi_get_array_length(env, argv[1], &nskip);
  for (uint32_t i = 0; i < nskip; i++) {
    napi_value v;
    size_t l;
    napi_get_element(env, argv[1], i, &v);
    if (napi_get_value_string_utf8(env, v, NULL, 0, &l) != napi_ok) continue;
    char *s = malloc(l + 1);
    if (!s) continue;
    napi_get_value_string_utf8(env, v, s, l + 1, &l);
    if (l > 1 && s[l - 1] == '/' && w.nskipdirs < MAX_SKIP) {
      s[l - 1] = 0;
      w.skipdirs[w.nskipdirs++] = s;
    } else if (l > 0 && s[l - 1] != '/' && w.nskip < MAX_SKIP) {
      w.skip[w.nskip++] = s;
    } else {
      free(s);
    }
  }
  int threads = threads_arg(env, argv[2]);

  w.rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (w.rootfd < 0) {
    w.err = errno;
    w.syscall = "opendir";
    w.errpath = strdup("");
  } else {
    dirjob_t *first = malloc(sizeof *first);
    first->rel = strdup("");
    first->len = 0;
    first->next = NULL;
    w.queue = first;
    pthread_t th[MAX_THREADS];
    worker_arg_t args[MAX_THREADS];
    int started = 0;
    for (int i = 1; i < threads; i++) {
      args[i].w = &w;
      args[i].id = i;
      if (pthread_create(&th[i], NULL, worker, &args[i]) != 0) break;
      started = i;
    }
    args[0].w = &w;
    args[0].id = 0;
    worker(&args[0]);
    for (int i = 1; i <= started; i++) pthread_join(th[i], NULL);
    close(w.rootfd);
    /* What an error left queued. */
    while (w.queue) {
      dirjob_t *j = w.queue;
      w.queue = j->next;
      free(j->rel);
      free(j);
    }
  }

  size_t n = 0;
  for (int i = 0; i < MAX_THREADS; i++) n += w.lists[i].n;
  entry_t *all = NULL;
  if (!w.err && n) {
    all = malloc(n * sizeof *all);
    if (!all) {
      w.err = ENOMEM;
      w.syscall = "malloc";
    } else {
      size_t k = 0;
      for (int i = 0; i < MAX_THREADS; i++) {
        memcpy(all + k, w.lists[i].items, w.lists[i].n * sizeof *all);
        k += w.lists[i].n;
      }
      qsort(all, n, sizeof *all, cmp_entry);
    }
  }

  napi_value result;
  napi_create_object(env, &result);
  if (w.err) {
    napi_value err, v;
    napi_create_object(env, &err);
    napi_create_int32(env, w.err, &v);
    napi_set_named_property(env, err, "errno", v);
    napi_create_string_utf8(env, w.syscall ? w.syscall : "", NAPI_AUTO_LENGTH, &v);
    napi_set_named_property(env, err, "syscall", v);
    napi_create_string_utf8(env, w.errpath ? w.errpath : "", NAPI_AUTO_LENGTH, &v);
    napi_set_named_property(env, err, "path", v);
    napi_set_named_property(env, result, "error", err);
    n = 0;
  }

  size_t total = 0;
  for (size_t i = 0; i < n; i++) total += all[i].len + 1;
  char *names = malloc(total ? total : 1);
  napi_value ab, arr, str;
  void *data = NULL;
  napi_create_arraybuffer(env, n * FIELDS * sizeof(double), &data, &ab);
  if (names && (data || n == 0)) {
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
      memcpy(names + off, all[i].rel, all[i].len);
      off += all[i].len;
      names[off++] = 0;
      memcpy((double *)data + i * FIELDS, all[i].f, sizeof all[i].f);
    }
    napi_create_string_utf8(env, names, total ? total - 1 : 0, &str);
  } else {
    napi_create_string_utf8(env, "", 0, &str);
  }
  napi_create_typedarray(env, napi_float64_array, n * FIELDS, ab, 0, &arr);
  napi_set_named_property(env, result, "names", str);
  napi_set_named_property(env, result, "stats", arr);

  free(names);
  for (int i = 0; i < MAX_THREADS; i++) {
    for (size_t k = 0; k < w.lists[i].n; k++) free(w.lists[i].items[k].rel);
    free(w.lists[i].items);
  }
  free(all);
  for (int i = 0; i < w.nskip; i++) free(w.skip[i]);
  for (int i = 0; i < w.nskipdirs; i++) free(w.skipdirs[i]);
  free(w.errpath);
  free(root);
  pthread_mutex_destroy(&w.mu);
  pthread_cond_destroy(&w.cv);
  return result;
}

/*
 * Runs `worker(job)` on the calling thread and on up to threads - 1 more, no more threads than `units` of
 * work, and waits for all of them. Workers take units from the job themselves.
 */
static void run_pool(int threads, size_t units, void *(*worker)(void *), void *job) {
  pthread_t th[MAX_THREADS];
  int started = 0;
  for (int i = 1; i < threads && (size_t)i < units; i++) {
    if (pthread_create(&th[i], NULL, worker, job) != 0) break;
    started = i;
  }
  worker(job);
  for (int i = 1; i <= started; i++) pthread_join(th[i], NULL);
}

#define READ_FIELDS 6

typedef struct {
  char **paths;
  const double *sizes;
  const double *offsets;
  unsigned char *data;
  double *meta;
  size_t n;
  size_t next;
  pthread_mutex_t mu;
} readjob_t;

static void read_one(readjob_t *j, size_t i) {
  double *m = j->meta + i * READ_FIELDS;
  size_t want = (size_t)j->sizes[i] + 1;
  unsigned char *dst = j->data + (size_t)j->offsets[i];
  int fd = open(j->paths[i], O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    m[1] = errno;
    return;
  }
  size_t got = 0;
  while (got < want) {
    ssize_t r = read(fd, dst + got, want - got);
    if (r < 0) {
      if (errno == EINTR) continue;
      m[1] = errno;
      close(fd);
      return;
    }
    if (r == 0) break;
    got += (size_t)r;
  }
  struct stat s;
  if (fstat(fd, &s) != 0) {
    m[1] = errno;
    close(fd);
    return;
  }
  close(fd);
  m[0] = (double)got;
  m[1] = 0;
  m[2] = (double)s.st_size;
  m[3] = ms(&s.st_mtim);
  m[4] = ms(&s.st_ctim);
  m[5] = (double)s.st_ino;
}

static void *read_worker(void *p) {
  readjob_t *j = p;
  for (;;) {
    pthread_mutex_lock(&j->mu);
    size_t i = j->next;
    /* Small batches per lock: files are tiny, the lock is cheap next to four system calls. */
    j->next += 16;
    pthread_mutex_unlock(&j->mu);
    if (i >= j->n) return NULL;
    size_t end = i + 16 < j->n ? i + 16 : j->n;
    for (; i < end; i++) read_one(j, i);
  }
}

static napi_value read_files(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3)
    return throw_type(env, "readFiles(paths, sizes, threads)");
  uint32_t n = 0;
  if (napi_get_array_length(env, argv[0], &n) != napi_ok) return throw_type(env, "paths must be an array");
  napi_typedarray_type tt;
  size_t tlen;
  void *tdata;
  if (napi_get_typedarray_info(env, argv[1], &tt, &tlen, &tdata, NULL, NULL) != napi_ok ||
      tt != napi_float64_array || tlen != n)
    return throw_type(env, "sizes must be a Float64Array, one per path");
  int threads = threads_arg(env, argv[2]);

  readjob_t j;
  memset(&j, 0, sizeof j);
  j.n = n;
  j.sizes = tdata;
  j.paths = calloc(n ? n : 1, sizeof(char *));
  double *offsets = malloc((n ? n : 1) * sizeof(double));
  if (!j.paths || !offsets) {
    free(j.paths);
    free(offsets);
    return throw_type(env, "out of memory");
  }
  double total = 0;
  for (uint32_t i = 0; i < n; i++) {
    offsets[i] = total;
    total += j.sizes[i] + 1;
  }
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    size_t l;
    napi_get_element(env, argv[0], i, &v);
    if (napi_get_value_string_utf8(env, v, NULL, 0, &l) != napi_ok) l = 0;
    j.paths[i] = malloc(l + 1);
    if (j.paths[i]) napi_get_value_string_utf8(env, v, j.paths[i], l + 1, &l);
  }
  napi_value result, databuf, metaab, meta, offab, offarr;
  void *data = NULL;
  void *metadata = NULL;
  void *offdata = NULL;
  napi_create_buffer(env, (size_t)total ? (size_t)total : 1, &data, &databuf);
  napi_create_arraybuffer(env, (size_t)n * READ_FIELDS * sizeof(double), &metadata, &metaab);
  napi_create_arraybuffer(env, (size_t)n * sizeof(double), &offdata, &offab);
  if (n) memcpy(offdata, offsets, n * sizeof(double));
  j.data = data;
  j.meta = metadata;
  j.offsets = offsets;
  for (uint32_t i = 0; i < n; i++) {
    j.meta[i * READ_FIELDS + 1] = j.paths[i] ? 0 : ENOMEM;
  }
  pthread_mutex_init(&j.mu, NULL);
  run_pool(threads, n / 64, read_worker, &j); /* a thread per 64 files at most */
  pthread_mutex_destroy(&j.mu);
  for (uint32_t i = 0; i < n; i++) free(j.paths[i]);
  free(j.paths);
  free(offsets);

  napi_create_typedarray(env, napi_float64_array, (size_t)n * READ_FIELDS, metaab, 0, &meta);
  napi_create_typedarray(env, napi_float64_array, n, offab, 0, &offarr);
  napi_create_object(env, &result);
  napi_set_named_property(env, result, "data", databuf);
  napi_set_named_property(env, result, "offsets", offarr);
  napi_set_named_property(env, result, "meta", meta);
  return result;
}

#define WRITE_FIELDS 5

static char **string_array(napi_env env, napi_value arr, uint32_t n) {
  char **out = calloc(n ? n : 1, sizeof(char *));
  if (!out) return NULL;
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    size_t l;
    napi_get_element(env, arr, i, &v);
    if (napi_get_value_string_utf8(env, v, NULL, 0, &l) != napi_ok) continue;
    out[i] = malloc(l + 1);
    if (out[i]) napi_get_value_string_utf8(env, v, out[i], l + 1, &l);
  }
  return out;
}

static void free_strings(char **a, uint32_t n) {
  if (!a) return;
  for (uint32_t i = 0; i < n; i++) free(a[i]);
  free(a);
}


/*
 * Work units for writes and links: runs of consecutive paths with the same parent directory. Creating a
 * name takes its directory's lock, so two threads filling one directory mostly wait for each other; one
 * directory per thread at a time keeps them apart (a single huge directory is then one unit).
 */
static size_t parent_len(const char *p) {
  const char *slash = strrchr(p, '/');
  return slash ? (size_t)(slash - p) : 0;
}

/* An open descriptor of the directory holding `path` (-1 when it cannot be opened: callers use paths). */
static int open_parent(const char *path) {
  if (!path || !strchr(path, '/')) return -1;
  size_t pl = parent_len(path);
  char *dir = strndup(path, pl ? pl : 1);
  if (!dir) return -1;
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  free(dir);
  return fd;
}

static size_t *dir_groups(char **paths, size_t n, size_t *ngroups) {
  size_t *starts = malloc((n + 1) * sizeof(size_t));
  if (!starts) return NULL;
  size_t g = 0;
  for (size_t i = 0; i < n; i++) {
    if (i == 0 || !paths[i] || !paths[i - 1]) {
      starts[g++] = i;
      continue;
    }
    size_t a = parent_len(paths[i - 1]), b = parent_len(paths[i]);
    if (a != b || memcmp(paths[i - 1], paths[i], a) != 0) starts[g++] = i;
  }
  starts[g] = n;
  *ngroups = g;
  return starts;
}

/*
 * A batch of per-path work grouped by directory (dir_groups): threads take one group at a time and call
 * `each` for its items with an open descriptor of the group's directory. writeFiles and linkFiles differ
 * only in `each` and in what `ctx` holds.
 */
typedef struct groupjob {
  char **paths; /* the names created (their directories group the work) */
  double *meta; /* WRITE_FIELDS numbers per item */
  size_t *groups;
  size_t ngroups;
  size_t next;
  pthread_mutex_t mu;
  void (*each)(struct groupjob *j, size_t i, int dfd, const char *name);
  void *ctx;
} groupjob_t;

static void *group_worker(void *p) {
  groupjob_t *j = p;
  for (;;) {
    pthread_mutex_lock(&j->mu);
    size_t g = j->next++;
    pthread_mutex_unlock(&j->mu);
    if (g >= j->ngroups) return NULL;
    /* One lookup of the directory per group instead of one (or two) per file. */
    int dfd = open_parent(j->paths[j->groups[g]]);
    for (size_t i = j->groups[g]; i < j->groups[g + 1]; i++) {
      if (!j->paths[i]) {
        j->meta[i * WRITE_FIELDS] = ENOMEM;
        continue;
      }
      const char *name = dfd >= 0 ? j->paths[i] + parent_len(j->paths[i]) + 1 : j->paths[i];
      j->each(j, i, dfd >= 0 ? dfd : AT_FDCWD, name);
    }
    if (dfd >= 0) close(dfd);
  }
}

/* The WRITE_FIELDS numbers of a new file: errno 0, then its stat. */
static void created(double *m, const struct stat *s) {
  m[0] = 0;
  m[1] = (double)s->st_size;
  m[2] = ms(&s->st_mtim);
  m[3] = ms(&s->st_ctim);
  m[4] = (double)s->st_ino;
}

/*
 * Runs a grouped job over `n` items (j->paths, j->each and j->ctx set by the caller) and returns its
 * Float64Array of WRITE_FIELDS numbers per item, or NULL when out of memory.
 */
static napi_value run_grouped(napi_env env, groupjob_t *j, size_t n, int threads) {
  napi_value metaab, meta;
  void *metadata = NULL;
  if (napi_create_arraybuffer(env, n * WRITE_FIELDS * sizeof(double), &metadata, &metaab) != napi_ok) return NULL;
  j->meta = metadata;
  j->groups = dir_groups(j->paths, n, &j->ngroups);
  if (!j->groups) return NULL;
  j->next = 0;
  pthread_mutex_init(&j->mu, NULL);
  run_pool(threads, j->ngroups, group_worker, j);
  pthread_mutex_destroy(&j->mu);
  free(j->groups);
  napi_create_typedarray(env, napi_float64_array, n * WRITE_FIELDS, metaab, 0, &meta);
  return meta;
}

typedef struct {
  const unsigned char *data;
  const double *offsets;
  const double *lengths;
  const uint32_t *modes;
} writectx_t;

/* Creates item i (O_EXCL) in directory `at` and writes its bytes; a failed write leaves no file. */
static void write_one(groupjob_t *j, size_t i, int at, const char *name) {
  const writectx_t *c = j->ctx;
  double *m = j->meta + i * WRITE_FIELDS;
  int fd = openat(at, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)c->modes[i]);
  if (fd < 0) {
    m[0] = errno;
    return;
  }
  const unsigned char *src = c->data + (size_t)c->offsets[i];
  size_t len = (size_t)c->lengths[i];
  size_t done = 0;
  while (done < len) {
    ssize_t w = write(fd, src + done, len - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      m[0] = errno;
      close(fd);
      unlinkat(at, name, 0); /* never leave a short file behind */
      return;
    }
    done += (size_t)w;
  }
  struct stat s;
  if (fstat(fd, &s) != 0) {
    m[0] = errno;
    close(fd);
    return;
  }
  if (close(fd) != 0) {
    m[0] = errno;
    unlinkat(at, name, 0);
    return;
  }
  created(m, &s);
}

static int typed(napi_env env, napi_value v, napi_typedarray_type want, size_t n, void **out) {
  napi_typedarray_type tt;
  size_t len;
  return napi_get_typedarray_info(env, v, &tt, &len, out, NULL, NULL) == napi_ok && tt == want && len == n;
}

static napi_value write_files(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 6)
    return throw_type(env, "writeFiles(paths, data, offsets, lengths, modes, threads)");
  uint32_t n = 0;
  if (napi_get_array_length(env, argv[0], &n) != napi_ok) return throw_type(env, "paths must be an array");
  void *data;
  size_t datalen;
  if (napi_get_buffer_info(env, argv[1], &data, &datalen) != napi_ok) return throw_type(env, "data must be a Buffer");
  void *offsets, *lengths, *modes;
  if (!typed(env, argv[2], napi_float64_array, n, &offsets) || !typed(env, argv[3], napi_float64_array, n, &lengths) ||
      !typed(env, argv[4], napi_uint32_array, n, &modes))
    return throw_type(env, "offsets, lengths (Float64Array) and modes (Uint32Array) need one entry per path");
  writectx_t c = {data, offsets, lengths, modes};
  for (uint32_t i = 0; i < n; i++)
    if (c.offsets[i] < 0 || c.lengths[i] < 0 || c.offsets[i] + c.lengths[i] > (double)datalen)
      return throw_type(env, "a file's bytes lie outside data");
  int threads = threads_arg(env, argv[5]);
  groupjob_t j;
  memset(&j, 0, sizeof j);
  j.each = write_one;
  j.ctx = &c;
  j.paths = string_array(env, argv[0], n);
  if (!j.paths) return throw_type(env, "out of memory");
  napi_value meta = run_grouped(env, &j, n, threads);
  free_strings(j.paths, n);
  return meta ? meta : throw_type(env, "out of memory");
}

/*
 * linkFiles(sources: string[], dests: string[], threads: number) -> Float64Array
 *   Hard-links each source to its destination (never over an existing file) and returns WRITE_FIELDS
 *   numbers per link, as writeFiles: errno (0 = ok), then the stat of the new name.
 */
static void link_one(groupjob_t *j, size_t i, int at, const char *name) {
  char **src = j->ctx;
  double *m = j->meta + i * WRITE_FIELDS;
  if (!src[i]) {
    m[0] = ENOMEM;
    return;
  }
  struct stat s;
  if (linkat(AT_FDCWD, src[i], at, name, 0) != 0 || fstatat(at, name, &s, 0) != 0) {
    m[0] = errno;
    return;
  }
  created(m, &s);
}

static napi_value link_files(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3)
    return throw_type(env, "linkFiles(sources, dests, threads)");
  uint32_t n = 0, n2 = 0;
  if (napi_get_array_length(env, argv[0], &n) != napi_ok || napi_get_array_length(env, argv[1], &n2) != napi_ok ||
      n != n2)
    return throw_type(env, "sources and dests must be arrays of the same length");
  int threads = threads_arg(env, argv[2]);
  char **src = string_array(env, argv[0], n);
  groupjob_t j;
  memset(&j, 0, sizeof j);
  j.each = link_one;
  j.ctx = src;
  j.paths = string_array(env, argv[1], n);
  napi_value meta = src && j.paths ? run_grouped(env, &j, n, threads) : NULL;
  free_strings(src, n);
  free_strings(j.paths, n);
  return meta ? meta : throw_type(env, "out of memory");
}

static napi_value try_lock(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0)
    return throw_type(env, "tryLock(fd)");
  int rc;
  do rc = flock(fd, LOCK_EX | LOCK_NB);
  while (rc != 0 && errno == EINTR);
  napi_value out;
  napi_create_int32(env, rc == 0 ? 0 : errno, &out);
  return out;
}

NAPI_MODULE_INIT() {
  napi_value fn, v;
  napi_create_function(env, "scan", NAPI_AUTO_LENGTH, scan, NULL, &fn);
  napi_set_named_property(env, exports, "scan", fn);
  napi_create_int32(env, FIELDS, &v);
  napi_set_named_property(env, exports, "FIELDS", v);
  napi_create_function(env, "readFiles", NAPI_AUTO_LENGTH, read_files, NULL, &fn);
  napi_set_named_property(env, exports, "readFiles", fn);
  napi_create_function(env, "writeFiles", NAPI_AUTO_LENGTH, write_files, NULL, &fn);
  napi_set_named_property(env, exports, "writeFiles", fn);
  napi_create_function(env, "linkFiles", NAPI_AUTO_LENGTH, link_files, NULL, &fn);
  napi_set_named_property(env, exports, "linkFiles", fn);
  napi_create_function(env, "tryLock", NAPI_AUTO_LENGTH, try_lock, NULL, &fn);
  napi_set_named_property(env, exports, "tryLock", fn);
  return exports;
}
