"""ch10-alignment: DPO, IPO, KTO, ORPO and SLiC losses held to trl, a Bradley-Terry reward
model, DPO on the default model judged by a programmatic judge, GRPO / RLOO / PPO from scratch
held to trl's trainers, the reward-KL frontier and the alignment tax."""
