// PNG through libpng, encoded in memory and written atomically. libpng reports errors by
// longjmp; the setjmp frames below hold no objects with destructors created after setjmp.
#include "reconbench/io/png.hpp"

#include <png.h>

#include <algorithm>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "reconbench/core/fs.hpp"

namespace fs = std::filesystem;

namespace rb {

namespace {

void append_bytes(png_structp png, png_bytep data, png_size_t n) {
  auto* out = static_cast<std::string*>(png_get_io_ptr(png));
  out->append(reinterpret_cast<const char*>(data), n);
}
void no_flush(png_structp) {}

struct ReadBuf {
  const std::string* data;
  size_t pos;
};
void read_bytes(png_structp png, png_bytep out, png_size_t n) {
  auto* b = static_cast<ReadBuf*>(png_get_io_ptr(png));
  if (b->pos + n > b->data->size()) png_error(png, "unexpected end of file");
  std::memcpy(out, b->data->data() + b->pos, n);
  b->pos += n;
}

// libpng error callback: keep the message (read under g_png_mutex) and unwind to setjmp.
char g_png_error[256];
void on_error(png_structp png, png_const_charp msg) {
  std::snprintf(g_png_error, sizeof g_png_error, "%s", msg ? msg : "libpng error");
  png_longjmp(png, 1);
}
void on_warning(png_structp, png_const_charp) {}

bool encode(const Image8& img, std::string* out) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, on_error, on_warning);
  if (!png) return false;
  png_infop info = png_create_info_struct(png);
  if (!info || setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return false;
  }
  png_set_write_fn(png, out, append_bytes, no_flush);
  png_set_IHDR(png, info, static_cast<png_uint_32>(img.width),
               static_cast<png_uint_32>(img.height), 8,
               img.channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  const size_t stride = static_cast<size_t>(img.width * img.channels);
  for (int64_t y = 0; y < img.height; ++y)
    png_write_row(png, const_cast<png_bytep>(img.pixels.data() + static_cast<size_t>(y) * stride));
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return true;
}

bool decode(const std::string& bytes, Image8* img) {
  ReadBuf buf{&bytes, 0};
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, nullptr, on_error, on_warning);
  if (!png) return false;
  png_infop info = png_create_info_struct(png);
  if (!info || setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  png_set_read_fn(png, &buf, read_bytes);
  png_read_info(png, info);
  png_set_strip_16(png);
  png_set_packing(png);
  png_set_palette_to_rgb(png);
  png_set_expand_gray_1_2_4_to_8(png);
  png_set_strip_alpha(png);
  png_read_update_info(png, info);
  img->width = png_get_image_width(png, info);
  img->height = png_get_image_height(png, info);
  img->channels = png_get_channels(png, info);
  if (img->channels != 1 && img->channels != 3) png_error(png, "unsupported channel count");
  const size_t stride = static_cast<size_t>(img->width * img->channels);
  img->pixels.resize(stride * static_cast<size_t>(img->height));
  for (int64_t y = 0; y < img->height; ++y)
    png_read_row(png, img->pixels.data() + static_cast<size_t>(y) * stride, nullptr);
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  return true;
}

std::mutex g_png_mutex;  // guards g_png_error

Image8 to_rgb(const Image8& g) {
  if (g.channels == 3) return g;
  Image8 o{g.height, g.width, 3, {}};
  o.pixels.resize(g.pixels.size() * 3);
  for (size_t i = 0; i < g.pixels.size(); ++i)
    o.pixels[3 * i] = o.pixels[3 * i + 1] = o.pixels[3 * i + 2] = g.pixels[i];
  return o;
}

}  // namespace

void write_png(const fs::path& path, const Image8& img) {
  RB_CHECK(img.channels == 1 || img.channels == 3, path.string(), ": PNG with ", img.channels,
           " channels (1 or 3 supported)");
  RB_CHECK(img.width > 0 && img.height > 0 && img.width < (1 << 24) && img.height < (1 << 24),
           path.string(), ": PNG of size ", img.width, "x", img.height);
  RB_CHECK(static_cast<int64_t>(img.pixels.size()) == img.width * img.height * img.channels,
           path.string(), ": pixel buffer does not match the image size");
  std::string bytes;
  {
    std::lock_guard lock(g_png_mutex);
    RB_CHECK(encode(img, &bytes), path.string(), ": PNG encoding failed (", g_png_error, ")");
  }
  write_file_atomic(path, bytes);
}

Image8 read_png(const fs::path& path) {
  RB_CHECK(fs::exists(path), path.string(), ": no such file");
  std::string bytes = read_file(path);
  RB_CHECK(bytes.size() >= 8 && png_sig_cmp(reinterpret_cast<png_const_bytep>(bytes.data()), 0,
                                            8) == 0,
           path.string(), ": not a PNG file");
  Image8 img;
  std::lock_guard lock(g_png_mutex);
  RB_CHECK(decode(bytes, &img), path.string(), ": cannot decode PNG (", g_png_error, ")");
  return img;
}

Image8 to_grey(ArrayView<const float> img, float lo, float hi) {
  RB_CHECK(img.ndim() == 2, "to_grey: image has shape ", shape_str(img.shape()),
           ", expected (y, x)");
  Image8 out{img.dim(0), img.dim(1), 1, {}};
  out.pixels.resize(static_cast<size_t>(img.size()));
  const double scale = hi > lo ? 255.0 / (static_cast<double>(hi) - lo) : 0.0;
  for (int64_t i = 0; i < img.size(); ++i) {
    double v = (static_cast<double>(img[i]) - lo) * scale;
    if (!(v > 0)) v = 0;  // also NaN
    if (v > 255) v = 255;
    out.pixels[static_cast<size_t>(i)] = static_cast<uint8_t>(std::lround(v));
  }
  return out;
}

Image8 hconcat(const std::vector<Image8>& parts, int64_t gap) {
  RB_CHECK(!parts.empty(), "hconcat: no images");
  bool rgb = std::any_of(parts.begin(), parts.end(), [](const Image8& p) { return p.channels == 3; });
  const int64_t ch = rgb ? 3 : 1, h = parts[0].height;
  int64_t w = 0;
  for (const auto& p : parts) {
    RB_CHECK(p.height == h, "hconcat: images of heights ", h, " and ", p.height);
    w += p.width;
  }
  w += gap * static_cast<int64_t>(parts.size() - 1);
  Image8 out{h, w, ch, std::vector<uint8_t>(static_cast<size_t>(h * w * ch), 0)};
  int64_t x0 = 0;
  for (const auto& p0 : parts) {
    Image8 p = rgb ? to_rgb(p0) : p0;
    for (int64_t y = 0; y < h; ++y)
      std::copy_n(p.pixels.begin() + y * p.width * ch, p.width * ch,
                  out.pixels.begin() + (y * w + x0) * ch);
    x0 += p.width + gap;
  }
  return out;
}

Image8 vconcat(const std::vector<Image8>& parts, int64_t gap) {
  RB_CHECK(!parts.empty(), "vconcat: no images");
  bool rgb = std::any_of(parts.begin(), parts.end(), [](const Image8& p) { return p.channels == 3; });
  const int64_t ch = rgb ? 3 : 1, w = parts[0].width;
  int64_t h = 0;
  for (const auto& p : parts) {
    RB_CHECK(p.width == w, "vconcat: images of widths ", w, " and ", p.width);
    h += p.height;
  }
  h += gap * static_cast<int64_t>(parts.size() - 1);
  Image8 out{h, w, ch, std::vector<uint8_t>(static_cast<size_t>(h * w * ch), 0)};
  int64_t y0 = 0;
  for (const auto& p0 : parts) {
    Image8 p = rgb ? to_rgb(p0) : p0;
    std::copy(p.pixels.begin(), p.pixels.end(), out.pixels.begin() + y0 * w * ch);
    y0 += p.height + gap;
  }
  return out;
}

}  // namespace rb
