// pb.h -- a bounded reader for the protobuf wire format (developers.google.com/protocol-buffers/
// docs/encoding), over the Rd reader of rd.h.
//
// Only the wire format is known here: varints (at most 10 bytes, the 10th carrying one bit),
// fixed32/fixed64 and length-delimited fields; the message schemas (TensorFlow's TensorProto,
// BundleEntryProto, ...) live in their users (tfckpt.c). Every length is checked against the
// enclosing message, so a nested reader can never run past its parent. Groups (wire types 3
// and 4, deprecated, never written by TensorFlow) and the undefined wire types 6 and 7 are
// errors. Errors name the input and the byte offset of the offending field.
#ifndef T2I_PB_H
#define T2I_PB_H

#include "rd.h"

#include <stdint.h>

enum { PB_VARINT = 0, PB_I64 = 1, PB_LEN = 2, PB_I32 = 5 };

// Reads a varint (up to 64 bits).
int pb_varint(Rd *r, uint64_t *v /* OUT */);
// Reads a field key: field number (1 .. 2^29-1) and wire type.
int pb_key(Rd *r, uint32_t *field /* OUT */, int *wire /* OUT */);
// Reads a length-delimited field's payload as a sub-reader (file offsets preserved).
int pb_sub(Rd *r, Rd *sub /* OUT */);
// Skips the payload of a field of wire type `wire`.
int pb_skip(Rd *r, int wire);

// Checks that a field has the wire type the schema expects (error names the field).
int pb_want(const Rd *r, uint32_t field, int wire, int want, const char *what);

// Number of elements a packed repeated field of fixed-size elements (4 or 8 bytes) or varints
// (elt 0) holds; error when a fixed-size payload is not a multiple of the element size.
int pb_packed_count(const Rd *sub, int elt, size_t *n /* OUT */);

// ---- singular fields of a message ------------------------------------------------------------
// One expected field: its number and wire type, where its value goes (uint64_t * for varints
// and fixed32/fixed64, Rd * for length-delimited payloads) and a flag set when it was seen.
// A later occurrence replaces an earlier one (protobuf's rule for singular fields).
typedef struct {
    uint32_t    field;
    int         wire;
    void       *dst;
    int        *seen;   // may be NULL
    const char *what;   // field name for messages
} PbField;

// Reads every field of message `m`: the listed ones into their destinations (wrong wire type is
// an error), the others skipped.
int pb_fields(Rd m, const PbField *spec, int n);

#endif
