// inception_tf.h -- TensorFlow names for the Inception v3 of inception.h: the two released TF
// evaluators are mapped onto the torchvision-layout keys the network binds, with their layouts
// converted (conv HWIO [kh,kw,in,out] -> OIHW, dense [in,out] -> [out,in]); values are copied
// bit for bit.
//
// * INCEPTION_SLIM: the TF-slim inception_v3 of StackGAN's CUB Inception Score
//   (inception/slim/inception_model.py), restored as the IS script restores it: every variable
//   from "<name>/ExponentialMovingAverage", BatchNorm moving statistics included; no
//   "inception_v3/" prefix, no BN gamma, no conv biases. Scopes: conv0..conv4, mixed_35x35x256a
//   .. mixed_8x8x2048b with branch*/Conv, Conv_1, ... in call order, aux_logits/{proj,Conv,FC},
//   logits/logits. See ../shared/fixtures/README.md "TF-slim Inception v3".
// * INCEPTION_TF2015: the Const nodes of classify_image_graph_def.pb (inception-2015-12-05):
//   conv, conv_1..conv_4, mixed, mixed_1..mixed_10 with conv / tower*/conv_k / tower*/mixed/conv_k
//   scopes, "<scope>/conv2d_params" and "<scope>/batchnorm/{gamma,beta,moving_mean,
//   moving_variance}", softmax/{weights,biases}: the same values pytorch-fid's
//   pt_inception-2015-12-05 weights hold.
#ifndef T2I_INCEPTION_TF_H
#define T2I_INCEPTION_TF_H

#include "inception.h"

// 1 when `sd` is keyed by TensorFlow names (no torchvision "fc.weight"/"Conv2d_1a_3x3" keys).
int inception_sd_is_tf(const StateDict *sd);

// Replaces *sd (TF names and layouts for cfg->variant) by the torchvision-keyed StateDict that
// `keys` (inception_keys of a network made with cfg) declares. Missing TF names and TF shape
// mismatches are errors listing the TF names; TF tensors the network does not use (raw
// variables beside their moving averages, optimizer slots, global_step, other Const nodes) are
// ignored. `what` names the file in messages.
int inception_from_tf(const InceptionConfig *cfg, const BindList *keys, StateDict *sd,
                      const char *what);

// The TF names and TF shapes that correspond to `keys` (for hash weights keyed by TF names).
int inception_tf_keys(const InceptionConfig *cfg, const BindList *keys, BindList *out /* OUT */);

// Weights for a network from a spec, whatever the naming: "hash:..." (for the slim variant the
// hash is keyed by the TF restore names in TF layouts, as the inception_slim fixture is), a
// torch/safetensors/npz file with torchvision names, or a TF checkpoint / GraphDef (mapped).
int inception_weights_load(const InceptionConfig *cfg, const BindList *keys, const char *spec,
                           StateDict *out /* OUT */);

#endif
