/* o2o_image.h: writing RGB frames on the agent side: PNG files (row filters here, deflate
 * and CRC-32 from zlib), text and dividers burnt into frames, and videos or GIFs through a
 * pipe into the ffmpeg program. The agent never links MuJoCo or GL: the frames come from
 * o2o-sim over the bridge (RENDER).
 *
 * Errors: 0 on success, -1 with a message naming the file in err. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Encode rgb [height][width][3] (top row first) as a PNG into a malloc'd buffer. */
int o2o_png_encode(const uint8_t *rgb, int width, int height, uint8_t **out, size_t *out_len,
                   char *err, size_t errlen);
int o2o_png_write(const char *path, const uint8_t *rgb, int width, int height, char *err,
                  size_t errlen);

/* Burn a label (letters, digits and . - + : / =; other characters are blanks) into
 * rgb [height][width][3] with its top-left corner at (x, y): white 5x7 glyphs, scaled with
 * the frame height (x1 below 160 rows, x2 below 320, else x3), on a darkened box. Clipped
 * at the image border. Returns the box height in pixels (to stack lines). */
int o2o_image_label(uint8_t *rgb, int width, int height, int x, int y, const char *text);
int o2o_image_label_height(int height); /* box height of a label in a frame of that height */
/* A light vertical line centred on column x (2 pixels wide, 4 from 320 rows on): the seam
 * between side-by-side panes. Clipped at the border. */
void o2o_image_divider(uint8_t *rgb, int width, int height, int x);

/* A video being written by an ffmpeg child process fed raw RGB24 frames through a pipe:
 *   ffmpeg -f rawvideo -pix_fmt rgb24 -s WxH -r FPS -i - -pix_fmt yuv420p -y PATH
 * or, for a .gif, one palette made from all frames (palettegen + paletteuse) instead of
 * yuv420p. The program is $O2O_FFMPEG if set, else "ffmpeg" on PATH. yuv420p needs even
 * sizes; GIFs do not. */
typedef struct o2o_video o2o_video;

/* 1 if ffmpeg is asked to write path as a video (.mp4 .mkv .webm .avi .mov) or a GIF. */
int o2o_video_name(const char *path);
/* Checks, without starting anything, that the sizes suit the format, ffmpeg exists and
 * PATH can be written: call before a rollout so a bad path fails early. */
int o2o_video_check(const char *path, int width, int height, double fps, char *err, size_t errlen);
/* o2o_video_check, then start ffmpeg. */
o2o_video *o2o_video_open(const char *path, int width, int height, double fps, char *err,
                          size_t errlen);
int o2o_video_frame(o2o_video *v, const uint8_t *rgb, char *err, size_t errlen);
/* Waits for ffmpeg; fails if it did not exit cleanly. Frees v in any case. */
int o2o_video_close(o2o_video *v, char *err, size_t errlen);

/* Can a file be created at path? (creates and removes a probe file; root-proof, unlike
 * access(2)). */
int o2o_path_writable(const char *path, char *err, size_t errlen);
/* mkdir -p dir and check that files can be created in it. */
int o2o_dir_prepare(const char *dir, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
