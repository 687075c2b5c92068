/* image_video.c: videos through an ffmpeg child process, and output-path checks.
 *
 * ffmpeg is started with fork + execvp (no shell, so any file name is safe) and fed raw
 * RGB24 frames on its stdin. A write to a pipe whose reader died raises SIGPIPE, which
 * would kill the agent: SIGPIPE is ignored while writing so the failure comes back as
 * EPIPE and a message. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "o2o_image.h"

struct o2o_video {
  pid_t pid;
  int fd; /* ffmpeg's stdin */
  int width, height;
  long frames;
  char path[1024];
};

static int has_ext(const char *path, const char *ext) {
  size_t n = strlen(path), e = strlen(ext);
  return n > e && !strcasecmp(path + n - e, ext);
}

int o2o_video_name(const char *path) {
  static const char *const exts[] = {".mp4", ".mkv", ".webm", ".avi", ".mov", ".gif"};
  for (size_t k = 0; k < sizeof exts / sizeof exts[0]; k++)
    if (has_ext(path, exts[k])) return 1;
  return 0;
}

static const char *ffmpeg_program(void) {
  const char *p = getenv("O2O_FFMPEG");
  return p && *p ? p : "ffmpeg";
}

/* Is prog runnable (a path, or found on PATH)? */
static int program_exists(const char *prog) {
  if (strchr(prog, '/')) return access(prog, X_OK) == 0;
  const char *path = getenv("PATH");
  if (!path) path = "/usr/bin:/bin";
  while (*path) {
    size_t n = strcspn(path, ":");
    char full[4096];
    if (n > 0 && n + strlen(prog) + 2 < sizeof full) {
      memcpy(full, path, n);
      full[n] = '/';
      memcpy(full + n + 1, prog, strlen(prog) + 1);
      if (access(full, X_OK) == 0) return 1;
    }
    path += n;
    if (*path == ':') path++;
  }
  return 0;
}

int o2o_path_writable(const char *path, char *err, size_t errlen) {
  struct stat st;
  int existed = stat(path, &st) == 0;
  if (existed && S_ISDIR(st.st_mode)) {
    snprintf(err, errlen, "cannot write %s: it is a directory", path);
    return -1;
  }
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd < 0) {
    snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    return -1;
  }
  close(fd);
  if (!existed) unlink(path);
  return 0;
}

int o2o_dir_prepare(const char *dir, char *err, size_t errlen) {
  char buf[1024];
  if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf) {
    snprintf(err, errlen, "output folder name too long: %s", dir);
    return -1;
  }
  /* mkdir -p: create each missing component. */
  for (char *p = buf + 1;; p++) {
    if (*p == '/' || *p == 0) {
      char saved = *p;
      *p = 0;
      if (mkdir(buf, 0755) && errno != EEXIST) {
        snprintf(err, errlen, "cannot create folder %s: %s", buf, strerror(errno));
        return -1;
      }
      struct stat st;
      if (stat(buf, &st) || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "cannot create folder %s: %s", buf,
                 stat(buf, &st) ? strerror(errno) : "a file of that name is in the way");
        return -1;
      }
      *p = saved;
      if (!saved) break;
    }
  }
  char probe[1100];
  snprintf(probe, sizeof probe, "%s/.o2o-write-probe-%d", buf, (int)getpid());
  return o2o_path_writable(probe, err, errlen);
}

int o2o_video_check(const char *path, int width, int height, double fps, char *err, size_t errlen) {
  if (width < 2 || height < 2 || (!has_ext(path, ".gif") && (width % 2 || height % 2))) {
    snprintf(err, errlen, "video %s: width and height must be even for yuv420p (got %dx%d)", path,
             width, height);
    return -1;
  }
  if (!(fps > 0 && fps <= 1000)) {
    snprintf(err, errlen, "video %s: fps %g outside (0, 1000]", path, fps);
    return -1;
  }
  const char *prog = ffmpeg_program();
  if (!program_exists(prog)) {
    snprintf(err, errlen,
             "video %s: the ffmpeg program '%s' was not found (Debian: apt-get install ffmpeg; "
             "or set O2O_FFMPEG; or write PNG frames by giving a folder instead of .mp4)",
             path, prog);
    return -1;
  }
  return o2o_path_writable(path, err, errlen);
}

o2o_video *o2o_video_open(const char *path, int width, int height, double fps, char *err,
                          size_t errlen) {
  if (o2o_video_check(path, width, height, fps, err, errlen)) return NULL;
  const char *prog = ffmpeg_program();
  o2o_video *v = calloc(1, sizeof *v);
  if (!v) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  snprintf(v->path, sizeof v->path, "%s", path);
  v->width = width;
  v->height = height;
  int fds[2];
  if (pipe(fds)) {
    snprintf(err, errlen, "video %s: pipe: %s", path, strerror(errno));
    free(v);
    return NULL;
  }
  char size[64], rate[64];
  snprintf(size, sizeof size, "%dx%d", width, height);
  snprintf(rate, sizeof rate, "%.9g", fps);
  pid_t pid = fork();
  if (pid < 0) {
    snprintf(err, errlen, "video %s: fork: %s", path, strerror(errno));
    close(fds[0]);
    close(fds[1]);
    free(v);
    return NULL;
  }
  if (pid == 0) {
    dup2(fds[0], 0);
    close(fds[0]);
    close(fds[1]);
    /* ffmpeg's stdout would mix with ours; its errors still reach stderr. */
    int null = open("/dev/null", O_WRONLY);
    if (null >= 0) dup2(null, 1);
    if (has_ext(path, ".gif")) /* one palette from all frames: no banding on the floor */
      execlp(prog, prog, "-hide_banner", "-loglevel", "error", "-nostdin", "-f", "rawvideo",
             "-pix_fmt", "rgb24", "-s", size, "-r", rate, "-i", "-", "-filter_complex",
             "[0:v]split[a][b];[a]palettegen[p];[b][p]paletteuse", "-y", path, (char *)NULL);
    else
      execlp(prog, prog, "-hide_banner", "-loglevel", "error", "-nostdin", "-f", "rawvideo",
             "-pix_fmt", "rgb24", "-s", size, "-r", rate, "-i", "-", "-pix_fmt", "yuv420p", "-y",
             path, (char *)NULL);
    fprintf(stderr, "o2o: cannot run %s: %s\n", prog, strerror(errno));
    _exit(127);
  }
  close(fds[0]);
  fcntl(fds[1], F_SETFD, FD_CLOEXEC); /* later children (o2o-sim) must not hold it open */
  v->pid = pid;
  v->fd = fds[1];
  return v;
}

int o2o_video_frame(o2o_video *v, const uint8_t *rgb, char *err, size_t errlen) {
  size_t n = (size_t)v->width * v->height * 3, done = 0;
  struct sigaction ign = {.sa_handler = SIG_IGN}, old;
  sigemptyset(&ign.sa_mask);
  sigaction(SIGPIPE, &ign, &old);
  while (done < n) {
    ssize_t w = write(v->fd, rgb + done, n - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      snprintf(err, errlen, "video %s: ffmpeg stopped reading at frame %ld (%s)", v->path,
               v->frames, w < 0 ? strerror(errno) : "short write");
      sigaction(SIGPIPE, &old, NULL);
      return -1;
    }
    done += (size_t)w;
  }
  sigaction(SIGPIPE, &old, NULL);
  v->frames++;
  return 0;
}

int o2o_video_close(o2o_video *v, char *err, size_t errlen) {
  if (!v) return 0;
  close(v->fd);
  int status = 0, rc = 0;
  while (waitpid(v->pid, &status, 0) < 0) {
    if (errno != EINTR) {
      status = -1;
      break;
    }
  }
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    snprintf(err, errlen, "video %s: ffmpeg failed (%s %d) after %ld frames; see its message above",
             v->path, WIFEXITED(status) ? "exit status" : "signal",
             WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), v->frames);
    rc = -1;
  }
  free(v);
  return rc;
}
