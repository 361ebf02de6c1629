// hone/train.hpp — the fine-tuning API umbrella: model surgery, selection and freezing,
// BatchNorm policies, optimizers and schedules, L2-SP, the trainer and its metrics,
// checkpoints, the feature cache and the recipes. It builds on the data pipeline
// (hone/data.hpp: link hone::stb to read image files and hone::zlib for gzipped IDX files)
// and on the ONNX tensor format (checkpoints store ONNX TensorProtos). See docs/train.md.
#pragma once

#include "hone/train/bn_policy.hpp"
#include "hone/train/checkpoint.hpp"
#include "hone/train/feature_cache.hpp"
#include "hone/train/history.hpp"
#include "hone/train/metrics.hpp"
#include "hone/train/optim.hpp"
#include "hone/train/recipes.hpp"
#include "hone/train/regularize.hpp"
#include "hone/train/schedule.hpp"
#include "hone/train/select.hpp"
#include "hone/train/surgery.hpp"
#include "hone/train/trainer.hpp"
