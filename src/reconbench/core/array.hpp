// One owning N-d array and one non-owning view, both contiguous, row-major (C order, as
// numpy/h5py). Complex data is std::complex<float> (interleaved re, im = numpy complex64);
// never a trailing size-2 axis outside the LibTorch boundary.
//
// Axis conventions, written in API comments as shapes:
//   k-space volume    [slice coil read phase]   = fastMRI (slices, coils, H, W)
//   k-space slice     [coil read phase]
//   image volume      [slice y x]               e.g. reconstruction (slices, 320, 320)
#pragma once

#include <complex>
#include <cstdint>
#include <functional>
#include <numeric>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "reconbench/core/error.hpp"

namespace rb {

using cfloat = std::complex<float>;
using cdouble = std::complex<double>;
using Shape = std::vector<int64_t>;

inline int64_t shape_numel(std::span<const int64_t> shape) {
  return std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<>());
}

std::string shape_str(std::span<const int64_t> shape);  // "(2, 4, 640, 320)"

template <class T>
class ArrayView {
 public:
  ArrayView() = default;
  ArrayView(T* data, Shape shape) : data_(data), shape_(std::move(shape)) {}

  T* data() const { return data_; }
  const Shape& shape() const { return shape_; }
  int ndim() const { return static_cast<int>(shape_.size()); }
  // dim(-1) is the last axis, as in numpy.
  int64_t dim(int axis) const { return shape_.at(axis < 0 ? axis + ndim() : axis); }
  int64_t size() const { return shape_numel(shape_); }
  std::span<T> flat() const { return {data_, static_cast<size_t>(size())}; }
  T& operator[](int64_t i) const { return data_[i]; }

  // Sub-array at index i of the first axis: [a b c] -> [b c].
  ArrayView<T> operator()(int64_t i) const {
    RB_ASSERT(ndim() >= 1 && i >= 0 && i < shape_[0]);
    Shape sub(shape_.begin() + 1, shape_.end());
    return {data_ + i * shape_numel(sub), sub};
  }
  template <class... I>
  T& at(I... idx) const {
    static_assert(sizeof...(I) > 0);
    const int64_t ids[] = {static_cast<int64_t>(idx)...};
    RB_ASSERT(static_cast<int>(sizeof...(I)) == ndim());
    int64_t off = 0;
    for (int d = 0; d < ndim(); ++d) off = off * shape_[d] + ids[d];
    return data_[off];
  }
  operator ArrayView<const T>() const { return {data_, shape_}; }

 private:
  T* data_ = nullptr;
  Shape shape_;
};

template <class T>
class Array {
 public:
  Array() = default;
  explicit Array(Shape shape, T fill = T{})
      : shape_(std::move(shape)), data_(static_cast<size_t>(shape_numel(shape_)), fill) {}
  Array(Shape shape, std::vector<T> data) : shape_(std::move(shape)), data_(std::move(data)) {
    RB_ASSERT(static_cast<int64_t>(data_.size()) == shape_numel(shape_), "shape ",
              shape_str(shape_), " vs ", data_.size(), " elements");
  }
  static Array from_view(ArrayView<const T> v) {
    return Array(v.shape(), std::vector<T>(v.data(), v.data() + v.size()));
  }

  T* data() { return data_.data(); }
  const T* data() const { return data_.data(); }
  const Shape& shape() const { return shape_; }
  int ndim() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int axis) const { return shape_.at(axis < 0 ? axis + ndim() : axis); }
  int64_t size() const { return static_cast<int64_t>(data_.size()); }
  bool empty() const { return data_.empty(); }
  std::span<T> flat() { return data_; }
  std::span<const T> flat() const { return data_; }
  std::vector<T>& vec() { return data_; }
  const std::vector<T>& vec() const { return data_; }
  T& operator[](int64_t i) { return data_[i]; }
  const T& operator[](int64_t i) const { return data_[i]; }

  ArrayView<T> view() { return {data_.data(), shape_}; }
  ArrayView<const T> view() const { return {data_.data(), shape_}; }
  ArrayView<T> operator()(int64_t i) { return view()(i); }
  ArrayView<const T> operator()(int64_t i) const { return view()(i); }
  template <class... I>
  T& at(I... idx) { return view().at(idx...); }
  template <class... I>
  const T& at(I... idx) const { return view().at(idx...); }

  void reshape(Shape shape) {
    RB_ASSERT(shape_numel(shape) == size(), "cannot reshape ", shape_str(shape_), " to ",
              shape_str(shape));
    shape_ = std::move(shape);
  }

 private:
  Shape shape_;
  std::vector<T> data_;
};

}  // namespace rb
