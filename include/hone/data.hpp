// hone/data.hpp — the data pipeline umbrella: image decoding, transforms, datasets, IDX
// files and the threaded loader. Kept out of hone/hone.hpp because decoding image files
// needs stb_image (link hone::stb, Debian's libstb-dev; without it decoding throws
// UnsupportedError and tensor/IDX datasets still work) and gzipped IDX files need zlib
// (hone::zlib); hone/hone.hpp needs only the standard library.
#pragma once

#include "hone/data/common.hpp"
#include "hone/data/datasets.hpp"
#include "hone/data/exif.hpp"
#include "hone/data/idx.hpp"
#include "hone/data/image.hpp"
#include "hone/data/loader.hpp"
#include "hone/data/transforms.hpp"
