// JPEG and PNG coding for Swift.
//
// libjpeg and libpng report errors by longjmp (and libjpeg's default handler
// calls exit()), which Swift cannot catch. These functions catch them with
// setjmp and return a status code plus a message, freeing everything they
// allocated on every path.
#ifndef GC_CODECS_H
#define GC_CODECS_H

#include <stddef.h>
#include <stdint.h>

/// Status codes returned by every gc_* coding function.
typedef enum {
    GC_OK = 0,
    GC_ERR_CORRUPT = 1,   ///< the library rejected the data; message in err
    GC_ERR_TRUNCATED = 2, ///< the data ends before the image does
    GC_ERR_TOO_LARGE = 3, ///< declared width*height exceeds max_pixels; out->width/height are set
    GC_ERR_NOMEM = 4,     ///< an allocation failed
    GC_ERR_ARGUMENT = 5,  ///< invalid arguments (e.g. zero size, bad quality)
} gc_status;

/// A decoded image: interleaved 8-bit RGB, row-major, `width*height*3` bytes.
typedef struct {
    uint8_t *pixels;  ///< malloc'd; release with gc_free
    size_t width;
    size_t height;
    int orientation;  ///< EXIF orientation 1...8 (JPEG only; 1 when absent or invalid)
} gc_image;

/// Decodes a JPEG (baseline, progressive, arithmetic; greyscale, YCbCr, RGB,
/// CMYK, YCCK) to RGB. libjpeg warnings, such as a premature end of data, are
/// errors. The EXIF orientation is returned, not applied.
gc_status gc_jpeg_decode(const uint8_t *data, size_t size, size_t max_pixels,
                         gc_image *out, char *err, size_t errlen);

/// Decodes a PNG of any bit depth and colour type to RGB; alpha (including
/// tRNS transparency) is composited on white and 16-bit samples are rounded
/// to 8 bits. A bad CRC in any chunk is an error.
gc_status gc_png_decode(const uint8_t *data, size_t size, size_t max_pixels,
                        gc_image *out, char *err, size_t errlen);

/// Encodes interleaved RGB8 as a baseline JPEG (4:2:0) with quality 1...100.
/// On success *out is malloc'd (release with gc_free) and *outlen is its size.
gc_status gc_jpeg_encode(const uint8_t *rgb, size_t width, size_t height, int quality,
                         uint8_t **out, size_t *outlen, char *err, size_t errlen);

/// Encodes 8-bit pixels with `channels` = 1 (grey) or 3 (RGB) as a PNG.
/// On success *out is malloc'd (release with gc_free) and *outlen is its size.
gc_status gc_png_encode(const uint8_t *pixels, size_t width, size_t height, int channels,
                        uint8_t **out, size_t *outlen, char *err, size_t errlen);

/// Releases memory returned by the functions above.
void gc_free(void *p);

#endif
