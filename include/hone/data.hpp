// hone/data.hpp — the data pipeline umbrella: image decoding, transforms, datasets, IDX
// files and the threaded loader. Kept out of hone/hone.hpp because it needs stb_image
// (link hone::stb, Debian's libstb-dev) and, for gzipped IDX files, zlib (hone::zlib);
// hone/hone.hpp needs only the standard library. hone/data/transforms.hpp and
// hone/data/idx.hpp can be included on their own without stb_image.
#pragma once

#include "hone/data/common.hpp"
#include "hone/data/datasets.hpp"
#include "hone/data/exif.hpp"
#include "hone/data/idx.hpp"
#include "hone/data/image.hpp"
#include "hone/data/loader.hpp"
#include "hone/data/transforms.hpp"
