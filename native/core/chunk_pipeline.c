#include "chunk_pipeline.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

/* After this many empty polls a waiting hasher yields its core instead of spinning. */
#define SPINS_BEFORE_YIELD 64

typedef struct {
  const uint8_t *src;
  const uint32_t *lengths;
  const size_t *offsets;
  uint8_t *hashes;
  chunk_hash_alg alg;
  atomic_size_t published; /* chunks whose length and offset are final */
  atomic_int scan_done;
  atomic_size_t next_claim;
  atomic_int failed;
  unsigned helpers_left; /* guarded by the pipeline lock */
} hash_job;

struct chunk_pipeline {
  pthread_mutex_t lock;
  pthread_cond_t job_posted;
  pthread_cond_t helper_left;
  pthread_mutex_t submit; /* one job at a time; others fall back to the caller alone */
  hash_job *job;
  uint64_t generation;
  int stopping;
  unsigned helpers;
  pthread_t threads[CHUNK_PIPELINE_MAX_HELPERS];
};

static void hash_claimed_chunks(hash_job *job, chunk_hasher *hasher) {
  for (;;) {
    const size_t index = atomic_fetch_add_explicit(&job->next_claim, 1, memory_order_relaxed);
    int spins = 0;
    for (;;) {
      if (index < atomic_load_explicit(&job->published, memory_order_acquire)) break;
      if (atomic_load_explicit(&job->scan_done, memory_order_acquire)) {
        if (index < atomic_load_explicit(&job->published, memory_order_acquire)) break;
        return;
      }
      if (++spins >= SPINS_BEFORE_YIELD) {
        spins = 0;
        sched_yield();
      }
    }
    if (hasher == NULL ||
        chunk_hash(hasher, job->alg, job->src + job->offsets[index], job->lengths[index],
                   job->hashes + (size_t)CHUNK_HASH_BYTES * index) != 0) {
      atomic_store(&job->failed, 1);
    }
  }
}

static void *helper_main(void *arg) {
  chunk_pipeline *pipeline = arg;
  chunk_hasher *hasher = chunk_hasher_new();
  uint64_t seen = 0;
  pthread_mutex_lock(&pipeline->lock);
  for (;;) {
    while (!pipeline->stopping && pipeline->generation == seen) {
      pthread_cond_wait(&pipeline->job_posted, &pipeline->lock);
    }
    if (pipeline->stopping) break;
    seen = pipeline->generation;
    hash_job *job = pipeline->job;
    pthread_mutex_unlock(&pipeline->lock);

    hash_claimed_chunks(job, hasher);

    pthread_mutex_lock(&pipeline->lock);
    job->helpers_left--;
    pthread_cond_broadcast(&pipeline->helper_left);
  }
  pthread_mutex_unlock(&pipeline->lock);
  chunk_hasher_free(hasher);
  return NULL;
}

chunk_pipeline *chunk_pipeline_new(unsigned helpers) {
  chunk_pipeline *pipeline = calloc(1, sizeof *pipeline);
  if (pipeline == NULL) return NULL;
  if (helpers > CHUNK_PIPELINE_MAX_HELPERS) helpers = CHUNK_PIPELINE_MAX_HELPERS;
  pthread_mutex_init(&pipeline->lock, NULL);
  pthread_mutex_init(&pipeline->submit, NULL);
  pthread_cond_init(&pipeline->job_posted, NULL);
  pthread_cond_init(&pipeline->helper_left, NULL);
  for (unsigned i = 0; i < helpers; i++) {
    if (pthread_create(&pipeline->threads[i], NULL, helper_main, pipeline) != 0) break;
    pipeline->helpers++;
  }
  return pipeline;
}

void chunk_pipeline_free(chunk_pipeline *pipeline) {
  if (pipeline == NULL) return;
  pthread_mutex_lock(&pipeline->lock);
  pipeline->stopping = 1;
  pthread_cond_broadcast(&pipeline->job_posted);
  pthread_mutex_unlock(&pipeline->lock);
  for (unsigned i = 0; i < pipeline->helpers; i++) pthread_join(pipeline->threads[i], NULL);
  pthread_cond_destroy(&pipeline->job_posted);
  pthread_cond_destroy(&pipeline->helper_left);
  pthread_mutex_destroy(&pipeline->lock);
  pthread_mutex_destroy(&pipeline->submit);
  free(pipeline);
}

unsigned chunk_pipeline_helpers(const chunk_pipeline *pipeline) { return pipeline->helpers; }

static int run_on_caller(chunk_hasher *hasher, const cdc_params *params, const uint8_t *src, size_t n, int at_end,
                         chunk_hash_alg alg, size_t capacity, size_t byte_budget, uint32_t *lengths,
                         uint64_t *gears, uint8_t *hashes, size_t *count, size_t *consumed) {
  *count = cdc_scan(params, src, n, at_end, lengths, gears, capacity, byte_budget, consumed);
  if (alg == CHUNK_HASH_NONE) return 0;
  return chunk_hash_many(hasher, alg, src, lengths, *count, hashes);
}

int chunk_pipeline_run(chunk_pipeline *pipeline, chunk_hasher *caller_hasher, const cdc_params *params,
                       const uint8_t *src, size_t n, int at_end, chunk_hash_alg alg, size_t capacity,
                       size_t byte_budget, uint32_t *lengths, uint64_t *gears, uint8_t *hashes, size_t *count,
                       size_t *consumed) {
  const size_t span = n < byte_budget ? n : byte_budget;
  if (pipeline == NULL || pipeline->helpers == 0 || alg == CHUNK_HASH_NONE ||
      span < CHUNK_PIPELINE_PARALLEL_MIN_BYTES || pthread_mutex_trylock(&pipeline->submit) != 0) {
    return run_on_caller(caller_hasher, params, src, n, at_end, alg, capacity, byte_budget, lengths, gears,
                         hashes, count, consumed);
  }
  size_t *offsets = malloc(sizeof(size_t) * (capacity == 0 ? 1 : capacity));
  if (offsets == NULL) {
    pthread_mutex_unlock(&pipeline->submit);
    return run_on_caller(caller_hasher, params, src, n, at_end, alg, capacity, byte_budget, lengths, gears,
                         hashes, count, consumed);
  }

  hash_job job = {.src = src, .lengths = lengths, .offsets = offsets, .hashes = hashes, .alg = alg};
  atomic_init(&job.published, 0);
  atomic_init(&job.scan_done, 0);
  atomic_init(&job.next_claim, 0);
  atomic_init(&job.failed, 0);
  job.helpers_left = pipeline->helpers;

  pthread_mutex_lock(&pipeline->lock);
  pipeline->job = &job;
  pipeline->generation++;
  pthread_cond_broadcast(&pipeline->job_posted);
  pthread_mutex_unlock(&pipeline->lock);

  /* The same loop as cdc_scan, publishing each chunk as soon as it is cut. */
  size_t start = 0, chunks = 0;
  while (chunks < capacity && start < n && start < byte_budget) {
    const size_t available = n - start;
    if (!at_end && available < params->max_size) break;
    const size_t length = cdc_cut(params, src + start, available, &gears[chunks]);
    lengths[chunks] = (uint32_t)length;
    offsets[chunks] = start;
    chunks++;
    atomic_store_explicit(&job.published, chunks, memory_order_release);
    start += length;
  }
  atomic_store_explicit(&job.scan_done, 1, memory_order_release);
  hash_claimed_chunks(&job, caller_hasher);

  pthread_mutex_lock(&pipeline->lock);
  while (job.helpers_left > 0) pthread_cond_wait(&pipeline->helper_left, &pipeline->lock);
  pipeline->job = NULL;
  pthread_mutex_unlock(&pipeline->lock);
  pthread_mutex_unlock(&pipeline->submit);

  free(offsets);
  *count = chunks;
  *consumed = start;
  return atomic_load(&job.failed) ? -1 : 0;
}
