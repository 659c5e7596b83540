-- CreateEnum
CREATE TYPE "batch_status" AS ENUM ('validating', 'in_progress', 'completed', 'cancelling', 'cancelled', 'expired');

-- AlterTable
ALTER TABLE "api_keys" ADD COLUMN     "requests_per_minute" INTEGER,
ADD COLUMN     "units_per_minute" INTEGER;

-- AlterTable
ALTER TABLE "jobs" ADD COLUMN     "batch_id" TEXT,
ADD COLUMN     "custom_id" TEXT,
ADD COLUMN     "expires_at" TIMESTAMPTZ(3),
ADD COLUMN     "input_units" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "purged_at" TIMESTAMPTZ(3),
ADD COLUMN     "timeout_ms" INTEGER;

-- AlterTable
ALTER TABLE "tenants" ADD COLUMN     "max_queued_jobs" INTEGER,
ADD COLUMN     "monthly_budget_units" BIGINT;

-- AlterTable
ALTER TABLE "webhook_deliveries" ADD COLUMN     "batch_id" TEXT;

-- CreateTable
CREATE TABLE "batches" (
    "id" TEXT NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "status" "batch_status" NOT NULL DEFAULT 'in_progress',
    "total" INTEGER NOT NULL,
    "metadata" JSONB NOT NULL DEFAULT '{}',
    "completion_window_s" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "completed_at" TIMESTAMPTZ(3),

    CONSTRAINT "batches_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "idempotency_keys" (
    "tenant_id" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "request_hash" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "resource_id" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "idempotency_keys_pkey" PRIMARY KEY ("tenant_id","key")
);

-- CreateIndex
CREATE INDEX "batches_tenant_id_id_idx" ON "batches"("tenant_id", "id" DESC);

-- CreateIndex
CREATE INDEX "jobs_tenant_id_model_status_idx" ON "jobs"("tenant_id", "model", "status");

-- CreateIndex
CREATE INDEX "jobs_batch_id_status_idx" ON "jobs"("batch_id", "status");

-- CreateIndex
CREATE INDEX "jobs_status_expires_at_idx" ON "jobs"("status", "expires_at");

-- CreateIndex
CREATE INDEX "jobs_tenant_id_completed_at_idx" ON "jobs"("tenant_id", "completed_at");

-- AddForeignKey
ALTER TABLE "jobs" ADD CONSTRAINT "jobs_batch_id_fkey" FOREIGN KEY ("batch_id") REFERENCES "batches"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_batch_id_fkey" FOREIGN KEY ("batch_id") REFERENCES "batches"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "batches" ADD CONSTRAINT "batches_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;
