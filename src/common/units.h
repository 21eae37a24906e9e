/* Internal: the number parser behind vmrt_parse_size/_duration, which the
 * configuration uses directly (it checks ranges on the exact value). */
#ifndef VMRT_COMMON_UNITS_H
#define VMRT_COMMON_UNITS_H

typedef enum vmrt__unit {
    VMRT__UNIT_NONE,     /* a plain non-negative number */
    VMRT__UNIT_SIZE,     /* bytes; K/M/G/T (binary), optional "i" and "B" */
    VMRT__UNIT_DURATION, /* nanoseconds; ns/us/ms/s/m, a plain number is seconds */
} vmrt__unit_t;

/* 0 and *out, or -1 when s is not such a number (negative, junk, overflow). */
int vmrt__parse_scaled(const char *s, vmrt__unit_t unit, double *out);

#endif
