/* train_names.h: zt-train-clf's part for the person-name scorer (train_names.c). */
#ifndef ZT_TOOLS_TRAIN_NAMES_H
#define ZT_TOOLS_TRAIN_NAMES_H

/* Retrain and write SRC/src/privacy/models/names.clf; 0 or 1 (printed why). */
int train_names_write(const char *src);

/* Cross-validation figures of the name scorer with the rules; 0 or 1. */
int train_names_cv(const char *src);

/* Each line of stdin with the PERSON_NAME hits of a name model trained on
 * every SRC row (the ZT_CV_THRESHOLD override), then each candidate with
 * the rules' confidence and the model's margin (word candidates before the
 * word gate); 0 or 1. */
int train_names_score(const char *src);

#endif
